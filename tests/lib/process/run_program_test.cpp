// Helper programs start without a shell: an argument reaches the program byte for byte, whatever
// quotes, spaces, ';' or '$(...)' it holds, and a program that is not there comes back as a
// result to report, not a crash or an exception.
#include <catch2/catch.hpp>

#include <filesystem>

#include "lib/process/run_program.h"
#include "tests/temp_dir.h"

using namespace kvmix;

TEST_CASE("run_program: arguments reach the program verbatim", "[lib][run_program]") {
  test::TempDir dir;
  const std::string hostile = "it's \"quoted\"; touch " + dir.file("PWNED") + " $(touch " +
                              dir.file("PWNED2") + ") `touch " + dir.file("PWNED3") + "` | &&\n#";
  const auto r = run_program({"printf", "[%s][%s]", hostile, "two words"});
  CHECK(r.ran);
  CHECK(r.status == 0);
  CHECK(r.output == "[" + hostile + "][two words]");
  CHECK(r.error.empty());
  CHECK_FALSE(std::filesystem::exists(dir.file("PWNED")));
  CHECK_FALSE(std::filesystem::exists(dir.file("PWNED2")));
  CHECK_FALSE(std::filesystem::exists(dir.file("PWNED3")));
}

TEST_CASE("run_program: stderr and the exit status come back", "[lib][run_program]") {
  const auto r = run_program({"/bin/sh", "-c", "echo out; echo oops >&2; exit 3"});
  CHECK(r.ran);
  CHECK(r.status == 3);
  CHECK(r.output == "out\n");
  CHECK(r.error == "oops\n");
}

TEST_CASE("run_program: a signal's end reads as 128 + the signal", "[lib][run_program]") {
  const auto r = run_program({"/bin/sh", "-c", "kill -TERM $$"});
  CHECK(r.ran);
  CHECK(r.status == 128 + 15);
  CHECK(r.error.find("signal 15") != std::string::npos);
}

TEST_CASE("run_program: output beyond the cap is read and dropped, not blocked on",
          "[lib][run_program]") {
  // 1 MiB on each stream: more than a pipe holds, so reading only one of them would hang.
  const auto r = run_program({"/bin/sh", "-c", "head -c 1048576 /dev/zero; head -c 1048576 /dev/zero >&2"});
  CHECK(r.ran);
  CHECK(r.status == 0);
  CHECK(r.output.size() == kMaxCapturedBytes);
  CHECK(r.error.size() == kMaxCapturedBytes);
}

TEST_CASE("run_program: a missing program is reported, not thrown", "[lib][run_program]") {
  const auto r = run_program({"kvmix-no-such-program-0f3a", "x"});
  CHECK_FALSE(r.ran);
  CHECK(r.error == "kvmix-no-such-program-0f3a: not found on PATH");

  test::TempDir dir;
  const auto by_path = run_program({dir.file("missing")});
  CHECK_FALSE(by_path.ran);
  CHECK(by_path.error.find(dir.file("missing") + ": cannot start: ") == 0);

  test::write_bytes(dir.file("not-executable"), "#!/bin/sh\n");
  const auto denied = run_program({dir.file("not-executable")});
  CHECK_FALSE(denied.ran);
  CHECK(denied.error.find("cannot start") != std::string::npos);
}
