#pragma once
// An exclusive lock on a run folder, so two jobs never write one folder at once (two tunes into
// one folder would journal every trial twice and race on every output). An advisory flock(2) on
// DIR/.kvmix.lock: the kernel releases it when the process ends, however it ends, so a killed job
// never leaves a stale lock behind.
#include <string>

namespace kvmix {

class DirLock {
 public:
  // Takes the lock or throws kvmix::Error naming the folder when another process holds it.
  explicit DirLock(const std::string& dir);
  ~DirLock();
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace kvmix
