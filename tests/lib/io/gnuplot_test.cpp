// Strings handed to gnuplot stay data: a quoted title or path, evaluated by the real gnuplot, is
// the input back (control bytes as visible escapes for text, exact bytes for paths) and runs no
// command, whatever quotes, backquotes, '@', ';', '#' or newlines it holds. The gnuplot cases
// print a note and pass when gnuplot is not installed (scripts/setup.sh installs gnuplot-nox).
#include <catch2/catch.hpp>

#include <filesystem>

#include "lib/io/gnuplot.h"
#include "tests/lib/io/gnuplot_required.h"
#include "tests/temp_dir.h"

using namespace kvmix;
namespace fs = std::filesystem;

namespace {

// What gnuplot makes of each expression: `print`ed one per line into a file.
std::string gnuplot_prints(const test::TempDir& dir, const std::vector<std::string>& exprs) {
  std::string script = "set print " + gnuplot_path(dir.file("printed.txt")) + "\n";
  for (const auto& e : exprs) script += "print " + e + "\n";
  test::write_bytes(dir.file("print.gp"), script);
  const auto r = run_gnuplot(dir.file("print.gp"));
  INFO(r.error);
  REQUIRE(r.ran);
  REQUIRE(r.status == 0);
  return test::read_bytes(dir.file("printed.txt"));
}

// The attacks of issue "Hostile input": each would run `touch` if pasted into a script unquoted.
std::vector<std::string> attacks(const test::TempDir& dir) {
  return {"x'; system 'touch " + dir.file("PWNED") + "'; #",
          "a\nsystem \"touch " + dir.file("PWNED2") + "\"",
          "a\r\nsystem 'touch " + dir.file("PWNED3") + "'",
          "`touch " + dir.file("PWNED4") + "`",
          "x' . system('touch " + dir.file("PWNED5") + "') . '",
          // a quote first, and quotes in a row: the cases gnuplot's own '' escape gets wrong
          "'; system 'touch " + dir.file("PWNED6") + "'; #",
          "a''; system ''touch " + dir.file("PWNED7") + "''; #",
          // a double quote would end a single-quoted run for gnuplot's macro expander
          "\"@GPVAL_PWD' \"`touch " + dir.file("PWNED8") + "`",
          "@x ^{super} _{sub} \\ \\' '' ''' \x1b[31m \t end\\"};
}

void check_no_pwned(const test::TempDir& dir) {
  for (const auto& e : fs::directory_iterator(dir.path()))
    CHECK(e.path().filename().string().rfind("PWNED", 0) == std::string::npos);
}

}  // namespace

TEST_CASE("gnuplot_quote: quotes octal-escaped, control bytes visible", "[lib][gnuplot]") {
  CHECK(gnuplot_quote("h2o") == "'h2o'");
  CHECK(gnuplot_quote("") == "''");
  CHECK(gnuplot_quote("bob's run") == R"('bob'."\047".'s run')");
  CHECK(gnuplot_quote("x'; system 'touch PWNED'; #") ==
        R"('x'."\047".'; system '."\047".'touch PWNED'."\047".'; #')");
  CHECK(gnuplot_quote("''\"") == R"("\047\047\042")");
  CHECK(gnuplot_quote("a\nb\rc\td\x1b" "e\x7f") == R"('a\nb\rc\td\x1be\x7f')");
  CHECK(gnuplot_quote("`date` $x @m \\") == R"('`date` $x @m \')");
  // No line break survives quoting.
  for (const auto& s : {std::string("a\nb"), std::string("\r"), std::string("x\n\n'")})
    CHECK(gnuplot_quote(s).find_first_of("\n\r") == std::string::npos);
}

TEST_CASE("gnuplot_path: exact bytes, never a pipe or a special file", "[lib][gnuplot]") {
  CHECK(gnuplot_path("p.png") == "'p.png'");
  CHECK(gnuplot_path("/tmp/bob's run/front.png") == R"('/tmp/bob'."\047".'s run/front.png')");
  CHECK(gnuplot_path("d\nx/o") == R"('d'."\012".'x/o')");
  CHECK(gnuplot_path("\n") == R"('./'."\012")");
  CHECK(gnuplot_path("<touch PWNED") == "'./<touch PWNED'");
  CHECK(gnuplot_path("|touch PWNED") == "'./|touch PWNED'");
  CHECK(gnuplot_path("$data") == "'./$data'");
  CHECK(gnuplot_path("-") == "'./-'");
  CHECK(gnuplot_path("~/x") == "'./~/x'");
  CHECK(gnuplot_path("_x") == "'_x'");
  CHECK(gnuplot_path("../x") == "'../x'");
}

TEST_CASE("gnuplot reads quoted text and paths back as the input, running nothing",
          "[lib][gnuplot]") {
  test::require_gnuplot();
  test::TempDir dir;
  std::vector<std::string> exprs, expected;
  for (const auto& a : attacks(dir)) {
    exprs.push_back(gnuplot_quote(a));
    expected.push_back(escape_control_chars(a));
    exprs.push_back(gnuplot_path(dir.file(a)));  // paths keep every byte, newlines included
    expected.push_back(dir.file(a));
  }
  std::string want;
  for (const auto& e : expected) want += e + "\n";
  CHECK(gnuplot_prints(dir, exprs) == want);
  check_no_pwned(dir);
}

TEST_CASE("gnuplot writes a PNG whose path holds quotes, newlines and a leading '<'",
          "[lib][gnuplot]") {
  test::require_gnuplot();
  test::TempDir dir;
  for (const std::string folder : {"bob's run", "a\nsystem 'touch PWNED'", "x'; system 'touch PWNED'; #"}) {
    fs::create_directories(dir.file(folder));
    const std::string png = dir.file(folder) + "/p.png", gp = dir.file(folder) + "/p.gp";
    test::write_bytes(gp, "set terminal pngcairo noenhanced\nset output " + gnuplot_path(png) +
                              "\nset title " + gnuplot_quote(folder) + "\nplot x title " +
                              gnuplot_quote(folder) + "\n");
    const auto r = run_gnuplot(gp);
    INFO(r.error);
    CHECK(plot_failure(r, png, gp).empty());
    CHECK(fs::exists(png));
  }
  check_no_pwned(dir);
  CHECK_FALSE(fs::exists("PWNED"));  // the folder names' `touch` is relative to our directory

  // A script named like a pipe is a file to gnuplot's command line, not a command.
  const std::string cwd = fs::current_path();
  fs::current_path(dir.path());
  test::write_bytes("<touch PWNED_arg", "print 1\n");
  const auto r = run_gnuplot("<touch PWNED_arg");
  fs::current_path(cwd);
  CHECK(r.ran);
  CHECK(r.status == 0);
  CHECK(r.error == "1\n");  // gnuplot's `print` goes to stderr
  check_no_pwned(dir);
}

TEST_CASE("plot_failure names the PNG and quotes gnuplot's error", "[lib][gnuplot]") {
  ProgramResult missing;
  missing.error = "gnuplot: not found on PATH";
  CHECK(plot_failure(missing, "out/a.png", "out/a.png.gp") ==
        "out/a.png not drawn: gnuplot: not found on PATH (install gnuplot-nox, then run gnuplot on "
        "out/a.png.gp)");
  ProgramResult ok;
  ok.ran = true;
  ok.status = 0;
  ok.error = "warning: something minor\n";
  CHECK(plot_failure(ok, "a.png", "a.gp").empty());

  test::require_gnuplot();
  test::TempDir dir;
  const std::string gp = dir.file("bad.gp");
  test::write_bytes(gp, "set terminal pngcairo\nset output " + gnuplot_path(dir.file("bad.png")) +
                            "\nplot no_such_function(x)\n");
  const std::string why = plot_failure(run_gnuplot(gp), dir.file("bad.png"), gp);
  CHECK(why.find(dir.file("bad.png") + " not drawn: gnuplot failed on " + gp + " (exit status 1):\n") == 0);
  CHECK(why.find("no_such_function") != std::string::npos);
  CHECK(why.find("line 3") != std::string::npos);
}
