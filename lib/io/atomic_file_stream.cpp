#include "lib/io/atomic_file_stream.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/error.h"

namespace kvmix {

AtomicFileStream::AtomicFileStream(std::string path)
    : path_(std::move(path)), tmp_(path_ + ".tmp." + std::to_string(::getpid())) {
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  KVMIX_CHECK(fd_ >= 0, "{}: cannot create: {}", tmp_, std::strerror(errno));
}

AtomicFileStream::~AtomicFileStream() { discard(); }

void AtomicFileStream::discard() noexcept {
  if (fd_ < 0) return;
  ::close(fd_);
  fd_ = -1;
  ::unlink(tmp_.c_str());
}

void AtomicFileStream::write(const void* data, size_t bytes) {
  KVMIX_ASSERT(fd_ >= 0, "{}: write after commit or a failed write", path_);
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t w = ::write(fd_, p, bytes);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      const int e = w < 0 ? errno : ENOSPC;  // 0 bytes written for a non-empty write: no room
      discard();
      throw Error(fmt::format("{}: write failed: {}", tmp_, std::strerror(e)));
    }
    p += w;
    bytes -= static_cast<size_t>(w);
  }
}

void AtomicFileStream::commit() {
  KVMIX_ASSERT(fd_ >= 0, "{}: committed twice or after a failed write", path_);
  if (::fsync(fd_) != 0) {
    const int e = errno;
    discard();
    throw Error(fmt::format("{}: cannot flush: {}", tmp_, std::strerror(e)));
  }
  const int fd = fd_;
  fd_ = -1;  // from here on the destructor must not unlink: the file is being published
  if (::close(fd) != 0 || ::rename(tmp_.c_str(), path_.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp_.c_str());
    throw Error(fmt::format("{}: cannot move into place: {}", path_, std::strerror(e)));
  }
  const size_t slash = path_.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path_.substr(0, slash + 1);
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {  // best effort: some filesystems refuse fsync on a folder
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace kvmix
