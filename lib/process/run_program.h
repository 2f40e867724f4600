#pragma once
// Starting a helper program (gnuplot) without a shell. The arguments reach the program as they are
// (posix_spawnp with an argument vector), so no byte of a file name or of text from an input file
// is ever read as shell syntax (quotes, ';', '$(...)'), as it was by std::system("prog '" + path +
// "'"). The caller waits for the program and gets its exit status and what it wrote, so a failure
// is reported in the program's own words.
#include <string>
#include <vector>

namespace kvmix {

struct ProgramResult {
  bool ran = false;    // false: it could not be started (not on PATH, not executable); see `error`
  int status = -1;     // its exit status; 128 + N when signal N ended it (as a shell reports it)
  std::string output;  // what it wrote on stdout
  std::string error;   // what it wrote on stderr, or why it could not be started
};

// Each of stdout and stderr is kept up to this many bytes; the rest is read and dropped, so a
// chatty program neither blocks on a full pipe nor fills memory.
inline constexpr size_t kMaxCapturedBytes = 1 << 16;

// Runs argv[0] (looked up on PATH when it has no '/') with argv[1..] as its arguments, stdin from
// /dev/null, and waits for it. Never throws for the program's sake: a program that cannot be
// started comes back as ran = false.
ProgramResult run_program(const std::vector<std::string>& argv);

}  // namespace kvmix
