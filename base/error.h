#pragma once
// The two error channels (DESIGN.md, "Errors"):
//  - kvmix::Error: the user's input is wrong (a file, a tensor, a field, an argument). It carries
//    context in its message; main() prints it and exits with status 1 (UsageError: status 2;
//    Interrupted, a stop the user asked for: status 130).
//  - KVMIX_ASSERT: an internal invariant broke. Always on, reports file and line, aborts.
// Library code never prints to stdout or exits on its own.
#include <spdlog/fmt/fmt.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace kvmix {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A bad command line: unknown name, conflicting flags. Exit status 2.
class UsageError : public Error {
 public:
  using Error::Error;
};

// The user asked to stop (SIGINT): thrown out of long loops once their finished work is saved.
// main() exits with status 130, as a shell does for a process ended by Ctrl-C.
class Interrupted : public Error {
 public:
  using Error::Error;
};

[[noreturn]] inline void assert_fail(const char* expr, const char* file, int line,
                                     const std::string& msg) {
  std::fprintf(stderr, "kvmix: internal error: %s:%d: assertion `%s` failed%s%s\n", file, line,
               expr, msg.empty() ? "" : ": ", msg.c_str());
  std::abort();
}

}  // namespace kvmix

// Throws kvmix::Error with a fmt-formatted message when `cond` is false.
#define KVMIX_CHECK(cond, ...)                                  \
  do {                                                          \
    if (!(cond)) throw ::kvmix::Error(fmt::format(__VA_ARGS__)); \
  } while (0)

#define KVMIX_ASSERT(cond, ...)                                                          \
  do {                                                                                   \
    if (!(cond)) ::kvmix::assert_fail(#cond, __FILE__, __LINE__, fmt::format("" __VA_ARGS__)); \
  } while (0)
