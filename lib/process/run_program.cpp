#include "lib/process/run_program.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/error.h"

extern char** environ;

namespace kvmix {
namespace {

// A file descriptor closed at scope exit, so no early return leaks a pipe end.
class Fd {
 public:
  Fd() = default;
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int* out() { return &fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// O_CLOEXEC: another thread spawning at the same moment must not inherit our pipe ends (its child
// would hold the write end open and our read would never see end of file).
int make_pipe(Fd& read_end, Fd& write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return errno;
  *read_end.out() = fds[0];
  *write_end.out() = fds[1];
  return 0;
}

// Starts argv with stdin from /dev/null and stdout/stderr on the given pipe ends. Returns 0 or the
// errno that kept it from starting (glibc's posix_spawnp reports a failed exec, ENOENT included,
// here rather than through the child's exit status).
int spawn(const std::vector<std::string>& argv, int out_w, int err_w, pid_t* pid) {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  if (int rc = posix_spawn_file_actions_init(&actions)) return rc;
  if (int rc = posix_spawnattr_init(&attr)) {
    posix_spawn_file_actions_destroy(&actions);
    return rc;
  }
  int rc = posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  if (!rc) rc = posix_spawn_file_actions_adddup2(&actions, out_w, 1);
  if (!rc) rc = posix_spawn_file_actions_adddup2(&actions, err_w, 2);
  // The child starts as a fresh program expects: no blocked signals, SIGPIPE not ignored (a
  // library of ours may ignore it in this process).
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  if (!rc) rc = posix_spawnattr_setsigmask(&attr, &none);
  if (!rc) rc = posix_spawnattr_setsigdefault(&attr, &defaults);
  if (!rc) rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  if (!rc) rc = posix_spawnp(pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  return rc;
}

// Reads both pipes until the child closes them. Both at once (poll), since a child blocked writing
// a full stderr pipe while we wait on stdout would never finish.
void drain(int out_r, int err_r, std::string& out, std::string& err) {
  pollfd fds[2] = {{out_r, POLLIN, 0}, {err_r, POLLIN, 0}};
  std::string* sinks[2] = {&out, &err};
  int open = 2;
  char buf[4096];
  while (open > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;  // the caller closes the pipes, so the child sees EPIPE rather than hanging
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        fds[i].fd = -1;  // poll skips negative descriptors
        --open;
        continue;
      }
      std::string& s = *sinks[i];
      s.append(buf, std::min(static_cast<size_t>(n), kMaxCapturedBytes - std::min(s.size(), kMaxCapturedBytes)));
    }
  }
}

}  // namespace

ProgramResult run_program(const std::vector<std::string>& argv) {
  KVMIX_ASSERT(!argv.empty(), "run_program needs a program name");
  ProgramResult r;
  Fd out_r, out_w, err_r, err_w;
  if (int e = make_pipe(out_r, out_w); e != 0 || (e = make_pipe(err_r, err_w)) != 0) {
    r.error = fmt::format("{}: cannot create a pipe for its output: {}", argv[0], std::strerror(e));
    return r;
  }
  pid_t pid = -1;
  if (int e = spawn(argv, out_w.get(), err_w.get(), &pid); e != 0) {
    r.error = e == ENOENT && argv[0].find('/') == std::string::npos
                  ? fmt::format("{}: not found on PATH", argv[0])
                  : fmt::format("{}: cannot start: {}", argv[0], std::strerror(e));
    return r;
  }
  r.ran = true;
  // Our copies of the write ends must go, or the pipes never reach end of file.
  out_w.reset();
  err_w.reset();
  drain(out_r.get(), err_r.get(), r.output, r.error);
  out_r.reset();
  err_r.reset();
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0) {
    if (errno == EINTR) continue;
    r.error += fmt::format("\n{}: cannot wait for it: {}", argv[0], std::strerror(errno));
    return r;  // status stays -1: a failure
  }
  if (WIFEXITED(wstatus)) {
    r.status = WEXITSTATUS(wstatus);
  } else if (WIFSIGNALED(wstatus)) {
    r.status = 128 + WTERMSIG(wstatus);
    r.error += fmt::format("\n{}: ended by signal {} ({})", argv[0], WTERMSIG(wstatus),
                           strsignal(WTERMSIG(wstatus)));
  }
  return r;
}

}  // namespace kvmix
