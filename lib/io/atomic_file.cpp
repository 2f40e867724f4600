#include "lib/io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "base/error.h"
#include "lib/io/paths.h"  // check_regular_file

namespace kvmix {
namespace {

void write_all(int fd, const char* data, size_t n, const std::string& path) {
  while (n > 0) {
    ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      throw Error(fmt::format("{}: write failed: {}", path, std::strerror(e)));
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
}

}  // namespace

void write_file_atomic(const std::string& path, const std::string& contents) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  KVMIX_CHECK(fd >= 0, "{}: cannot create: {}", tmp, std::strerror(errno));
  // From here every failure removes the temporary: a full disk or a file size limit must not
  // leave PATH.tmp.PID files behind.
  try {
    write_all(fd, contents.data(), contents.size(), tmp);  // closes fd when it throws
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  const int synced = ::fsync(fd);
  const int sync_errno = errno;
  const int closed = ::close(fd);  // always, even when fsync failed
  if (synced != 0 || closed != 0) {
    const int e = synced != 0 ? sync_errno : errno;
    ::unlink(tmp.c_str());
    throw Error(fmt::format("{}: cannot flush: {}", tmp, std::strerror(e)));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    throw Error(fmt::format("{}: cannot rename into place: {}", path, std::strerror(e)));
  }
}

std::string read_file(const std::string& path) {
  check_regular_file(path);  // before opening: open() on a FIFO would block
  std::ifstream in(path, std::ios::binary);
  KVMIX_CHECK(in.good(), "{}: cannot open: {}", path, std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  KVMIX_CHECK(!in.bad(), "{}: read failed", path);
  return ss.str();
}

void append_line_synced(const std::string& path, const std::string& line) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  KVMIX_CHECK(fd >= 0, "{}: cannot open for append: {}", path, std::strerror(errno));
  std::string buf = line;
  buf.push_back('\n');
  write_all(fd, buf.data(), buf.size(), path);
  if (::fsync(fd) != 0) {
    int e = errno;
    ::close(fd);
    throw Error(fmt::format("{}: fsync failed: {}", path, std::strerror(e)));
  }
  ::close(fd);
}

}  // namespace kvmix
