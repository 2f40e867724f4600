// Every gnuplot script kvmix writes (tune's front and heatmap, compare's fronts, the policy study's
// panels) keeps names from input files and folder names as data: a front whose method is
// `x'; system 'touch PWNED'; #`, a name with a newline and a command after it, a folder named
// "bob's run" draw their PNG, the key shows the name, and no command runs. The drawing cases print
// a note and pass when gnuplot is not installed.
#include <catch2/catch.hpp>

#include <filesystem>

#include "lib/io/atomic_file.h"
#include "lib/io/gnuplot.h"
#include "lib/policies/policy_report.h"
#include "search/plots.h"
#include "tests/lib/io/gnuplot_required.h"
#include "tests/temp_dir.h"

using namespace kvmix;
namespace fs = std::filesystem;

namespace {

std::string quote_attack(const test::TempDir& dir, const std::string& name) {
  return "x'; system 'touch " + dir.file(name) + "'; #";
}
std::string newline_attack(const test::TempDir& dir, const std::string& name) {
  return "a\nsystem \"touch " + dir.file(name) + "\"";
}

void check_no_pwned(const test::TempDir& dir) {
  for (const auto& e : fs::recursive_directory_iterator(dir.path()))
    CHECK(e.path().filename().string().rfind("PWNED", 0) == std::string::npos);
}

Front front(const std::string& method) {
  Front f;
  f.method = method;
  f.evaluations = 3;
  for (double b : {10.0, 20.0, 40.0}) {
    FrontPoint p;
    p.bytes_per_token = b;
    p.kl = 1.0 / b;
    f.points.push_back(p);
  }
  return f;
}

}  // namespace

TEST_CASE("plot_front: a hostile method is a title, in a folder with a quote", "[search][plots]") {
  test::TempDir dir;
  const std::string run = dir.file("bob's run");
  fs::create_directories(run);
  for (const auto& method : {quote_attack(dir, "PWNED"), newline_attack(dir, "PWNED2")}) {
    const std::string png = run + "/front.png";
    fs::remove(png);
    const bool drawn = plot_front(front(method), png);
    const std::string script = read_file(png + ".gp");
    CHECK(script.find("title " + gnuplot_quote(method) + "\n") != std::string::npos);
    CHECK(script.find("set output " + gnuplot_path(png) + "\n") != std::string::npos);
    CHECK(script.find("noenhanced") != std::string::npos);
    test::require_gnuplot();
    CHECK(drawn);
    CHECK(fs::exists(png));
  }
  check_no_pwned(dir);
}

TEST_CASE("plot_sensitivity_heatmap draws into a folder named with a quote", "[search][plots]") {
  test::TempDir dir;
  const std::string run = dir.file("bob's run");
  fs::create_directories(run);
  Sensitivity s;
  s.pairs = {KvPair{4, 2}, KvPair{8, 8}};
  s.cells.assign(2, std::vector<CellStats>(2));
  s.cells[0][0].out_rel_err = 0.1;
  s.cells[1][0].out_rel_err = 0.2;
  s.cells[0][1].out_rel_err = 0.01;
  s.cells[1][1].out_rel_err = 0.02;
  const std::string png = run + "/sensitivity.png";
  const bool drawn = plot_sensitivity_heatmap(s, ErrorMetric::kOutRelErr, png);
  CHECK(read_file(png + ".gp").find("set xtics ('K4V2' 0, 'KV8' 1)") != std::string::npos);
  test::require_gnuplot();
  CHECK(drawn);
  CHECK(fs::exists(png));
}

TEST_CASE("compare's plot: hostile methods and front file names are key titles", "[search][plots]") {
  test::TempDir dir;
  const std::vector<Front> fronts = {front(quote_attack(dir, "PWNED")), front(newline_attack(dir, "PWNED2")),
                                     front("kvmix")};
  const std::vector<std::string> files = {dir.file("x'; system 'touch PWNED3'; #.json"),
                                          dir.file("a\nsystem 'touch PWNED4'.json"), dir.file("plain.json")};
  const std::string out = dir.file("bob's run");
  fs::create_directories(out);
  const std::string png = out + "/cmp.png", dat = png + ".dat", gp = png + ".gp";
  write_file_atomic(dat, fronts_plot_data(fronts));
  const std::string script = fronts_plot_script(fronts, files, dat, png);
  write_file_atomic(gp, script);
  for (size_t i = 0; i < fronts.size(); ++i) {
    const std::string key = fs::path(files[i]).filename().string() + " (" + fronts[i].method + ")";
    CHECK(script.find(gnuplot_path(dat) + " index " + std::to_string(i) + " with linespoints title " +
                      gnuplot_quote(key)) != std::string::npos);
  }
  CHECK(script.find("noenhanced") != std::string::npos);
  test::require_gnuplot();
  const auto r = run_gnuplot(gp);
  INFO(r.error);
  CHECK(plot_failure(r, png, gp).empty());
  CHECK(fs::exists(png));
  check_no_pwned(dir);
  CHECK_FALSE(fs::exists("PWNED3"));  // the file names' `touch` is relative to our directory
  CHECK_FALSE(fs::exists("PWNED4"));
}

TEST_CASE("the policy study's plot: hostile task and policy names are titles", "[search][plots]") {
  test::TempDir dir;
  const std::string task = newline_attack(dir, "PWNED"), policy = quote_attack(dir, "PWNED2");
  auto result = [&](double budget, double score) {
    return nlohmann::json{{"label", policy},   {"policy", policy}, {"family", "eviction"},
                          {"budget", budget},  {"task", task},     {"metric", "exact_match"},
                          {"score", score},    {"kl", 0.5},        {"bytes_fraction", budget}};
  };
  const nlohmann::json study = {{"tasks", {{{"name", task}, {"metric", "exact_match"}}}},
                                {"results", {result(0.25, 0.5), result(0.5, 0.75)}}};
  const std::string out = dir.file("bob's run");
  fs::create_directories(out);
  const std::string dat = out + "/p.dat", gp = out + "/p.gp", png = out + "/p.png";
  const std::string data = policy_plot_data(study), script = policy_plot_script(study, dat, png);
  CHECK(data.rfind("# task " + escape_control_chars(task) + " policy " + policy + "\n", 0) == 0);
  CHECK(script.find("set title " + gnuplot_quote(task) + "\n") != std::string::npos);
  CHECK(script.find("title " + gnuplot_quote(policy) + "\n") != std::string::npos);
  write_file_atomic(dat, data);
  write_file_atomic(gp, script);
  test::require_gnuplot();
  const auto r = run_gnuplot(gp);
  INFO(r.error);
  CHECK(plot_failure(r, png, gp).empty());
  CHECK(fs::exists(png));
  check_no_pwned(dir);
}
