#pragma once
// Runs the built kvmix binary (KVMIX_BINARY, a compile definition of the test executable) with a
// fixed argument list, no shell, and returns its exit status and what it printed, for the tests of
// command-line behaviour: which values are refused, with which status and message.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <string>
#include <thread>
#include <vector>

#include "tests/temp_dir.h"

extern char** environ;

namespace kvmix::test {

struct KvmixRun {
  int status = -1;  // the exit status; -1 when killed (by the deadline or a signal)
  std::string out;  // stdout
  std::string err;  // stderr
};

// A refused value must fail in well under a second; the deadline only turns a hang (the bugs these
// tests guard against include endless loops) into a failure instead of a stuck test run.
// With sigint_after_seconds >= 0, SIGINT is sent once that long after the start (Ctrl-C).
inline KvmixRun run_kvmix(const std::vector<std::string>& args, int deadline_seconds = 120,
                          double sigint_after_seconds = -1) {
  TempDir dir;
  const std::string out_path = dir.file("stdout"), err_path = dir.file("stderr");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<std::string> argv_strings = {KVMIX_BINARY, "-q"};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, KVMIX_BINARY, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  KvmixRun r;
  if (rc != 0) {
    r.err = "posix_spawn failed for " + std::string(KVMIX_BINARY);
    return r;
  }
  int wstatus = 0;
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::seconds(deadline_seconds);
  bool interrupted = false;
  while (::waitpid(pid, &wstatus, WNOHANG) == 0) {
    if (!interrupted && sigint_after_seconds >= 0 &&
        std::chrono::steady_clock::now() - start > std::chrono::duration<double>(sigint_after_seconds)) {
      ::kill(pid, SIGINT);
      interrupted = true;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &wstatus, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  r.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
  r.out = read_bytes(out_path);
  r.err = read_bytes(err_path);
  return r;
}

}  // namespace kvmix::test
