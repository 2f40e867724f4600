// Command-level regressions of the hostile-input review: a front file whose method string is a
// gnuplot command runs nothing and is printed as text; Ctrl-C during a tune's profile stops it
// within seconds with status 130, keeping the run folder for the rerun.
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>

#include "lib/io/atomic_file.h"
#include "lib/io/json_file.h"
#include "tests/apps/kvmix/run_kvmix.h"
#include "tests/temp_dir.h"

namespace fs = std::filesystem;

namespace kvmix {

TEST_CASE("kvmix compare: a method string written as a gnuplot command runs nothing", "[apps][compare]") {
  test::TempDir dir;
  const std::string attack = "x'; system 'touch " + dir.file("PWNED") + "'; #";
  nlohmann::json front = read_json_file(KVMIX_SOURCE_DIR "/results/tune-builtin/front.json");
  front["method"] = attack;
  const std::string a = dir.file("evil'; touch PWNED2; '.json"), b = dir.file("plain.json");
  write_file_atomic(a, front.dump());
  front["method"] = "line one\nsystem 'touch " + dir.file("PWNED3") + "'";
  write_file_atomic(b, front.dump());
  const std::string plot = dir.file("it's here.png");
  const test::KvmixRun r = test::run_kvmix({"compare", a, b, "--plot", plot});
  CAPTURE(r.err);
  // Whether or not gnuplot is installed (without it the plot is the error), nothing ran.
  CHECK_FALSE(fs::exists(dir.file("PWNED")));
  CHECK_FALSE(fs::exists("PWNED2"));
  CHECK_FALSE(fs::exists(dir.file("PWNED3")));
  CHECK(r.out.find(attack) != std::string::npos);             // the label, printed as text
  CHECK(r.out.find("line one\\nsystem") != std::string::npos);  // a newline cannot start a row
  if (r.status == 0) CHECK(fs::exists(plot));
}

TEST_CASE("kvmix tune: Ctrl-C during the profile stops within seconds with status 130", "[apps][tune]") {
  test::TempDir dir;
  const std::string out = dir.file("run");
  const auto t0 = std::chrono::steady_clock::now();
  const test::KvmixRun r = test::run_kvmix(
      {"tune", "--model", "builtin", "--out", out, "--threads", "1", "--calib-tasks", "arith,recall",
       "--calib-samples", "32"},
      120, 4.0);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CAPTURE(r.err, seconds);
  CHECK(r.status == 130);
  CHECK(seconds < 60);  // a generous bound on a loaded machine: the profile alone takes minutes
  CHECK(r.err.find("interrupted") != std::string::npos);
  CHECK_FALSE(fs::exists(out + "/sensitivity.json"));
}

}  // namespace kvmix
