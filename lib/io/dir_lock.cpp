#include "lib/io/dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/error.h"

namespace kvmix {

DirLock::DirLock(const std::string& dir) {
  const std::string path = dir + "/.kvmix.lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  KVMIX_CHECK(fd_ >= 0, "{}: cannot open the run folder's lock: {}", path, std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    KVMIX_CHECK(err != EWOULDBLOCK, "{}: another kvmix job is writing this run folder; wait for it to end "
                                    "or use another folder", dir);
    throw Error(fmt::format("{}: cannot lock the run folder: {}", path, std::strerror(err)));
  }
}

DirLock::~DirLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the descriptor releases the flock
}

}  // namespace kvmix
