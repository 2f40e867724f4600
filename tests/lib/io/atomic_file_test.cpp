// The atomic writers leave nothing behind when a write fails: a full disk or a file size limit
// once left out.json.tmp.PID in the folder. The failure is made real with RLIMIT_FSIZE in a
// forked child (root ignores permissions, not this limit), with SIGXFSZ ignored as kvmix's main()
// ignores it, so write() fails with EFBIG instead of the signal killing the process.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <csignal>
#include <filesystem>
#include <functional>

#include "base/error.h"
#include "lib/io/atomic_file.h"
#include "lib/io/atomic_file_stream.h"
#include "tests/temp_dir.h"

using namespace kvmix;

namespace {

// What the child reports through its exit status.
enum ChildResult { kCleanFailure = 0, kNoError = 1, kOtherException = 2, kLeftovers = 3 };

// Runs `write` in a child limited to 1 KiB files; the child checks that it threw kvmix::Error
// and that `dir` holds no file but those that were there before.
int write_under_size_limit(const std::string& dir, const std::function<void()>& write) {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{1024, 1024};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    int result = kNoError;
    try {
      write();
    } catch (const Error&) {
      result = kCleanFailure;
    } catch (...) {
      result = kOtherException;
    }
    if (result == kCleanFailure)
      for (const auto& e : std::filesystem::directory_iterator(dir))
        if (e.path().filename().string().find(".tmp.") != std::string::npos) result = kLeftovers;
    ::_exit(result);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("write_file_atomic removes its temporary file when a write fails", "[lib][atomic_file]") {
  test::TempDir dir;
  const std::string path = dir.file("out.json");
  write_file_atomic(path, "old\n");
  CHECK(write_under_size_limit(dir.path(), [&] {
          write_file_atomic(path, std::string(64 * 1024, 'x'));
        }) == kCleanFailure);
  CHECK(test::read_bytes(path) == "old\n");  // the target is untouched
}

TEST_CASE("AtomicFileStream removes its temporary file when a write fails", "[lib][atomic_file]") {
  test::TempDir dir;
  const std::string path = dir.file("shard.safetensors");
  CHECK(write_under_size_limit(dir.path(), [&] {
          AtomicFileStream out(path);
          const std::string chunk(512, 'x');
          for (int i = 0; i < 16; ++i) out.write(chunk.data(), chunk.size());
          out.commit();
        }) == kCleanFailure);
  CHECK(!std::filesystem::exists(path));
}

TEST_CASE("write_file_atomic removes its temporary file when the rename fails",
          "[lib][atomic_file]") {
  test::TempDir dir;
  const std::string path = dir.file("taken");
  std::filesystem::create_directories(path + "/inside");  // a non-empty folder: rename refuses it
  CHECK_THROWS_WITH(write_file_atomic(path, "x"), Catch::Contains(path));
  for (const auto& e : std::filesystem::directory_iterator(dir.path()))
    CHECK(e.path().filename().string().find(".tmp.") == std::string::npos);
}
