#include "lib/io/safetensors.h"

#include <ATen/ops/empty.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/error.h"

namespace kvmix {

// The spec stores elements little-endian; read() copies bytes verbatim into host tensors.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "safetensors I/O assumes a little-endian host");

std::optional<at::ScalarType> safetensors_scalar_type(SafetensorsDtype d) {
  switch (d) {
    case SafetensorsDtype::kF32:
      return at::kFloat;
    case SafetensorsDtype::kF16:
      return at::kHalf;
    case SafetensorsDtype::kBF16:
      return at::kBFloat16;
    default:
      return std::nullopt;
  }
}

SafetensorsDtype safetensors_dtype_of(at::ScalarType t, const std::string& tensor_name) {
  switch (t) {
    case at::kFloat:
      return SafetensorsDtype::kF32;
    case at::kHalf:
      return SafetensorsDtype::kF16;
    case at::kBFloat16:
      return SafetensorsDtype::kBF16;
    default:
      throw Error(
          fmt::format("tensor '{}': dtype {} cannot be stored (kvmix writes F32, F16, BF16)",
                      tensor_name, c10::toString(t)));
  }
}

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  KVMIX_CHECK(fd >= 0, "{}: cannot open: {}", path, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(fmt::format("{}: not a regular file", path));
  }
  size_ = static_cast<uint64_t>(st.st_size);
  if (size_ > 0) {  // mmap refuses length 0; the header parser reports the empty file
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    const int e = errno;
    ::close(fd);  // the mapping keeps the file open
    KVMIX_CHECK(p != MAP_FAILED, "{}: cannot map: {}", path, std::strerror(e));
    map_ = static_cast<const uint8_t*>(p);
  } else {
    ::close(fd);
  }
  try {
    header_ = parse_safetensors_header(map_, size_, path);
  } catch (...) {
    if (map_) ::munmap(const_cast<uint8_t*>(map_), size_);
    throw;
  }
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) ::munmap(const_cast<uint8_t*>(map_), size_);
}

const SafetensorsEntry& SafetensorsFile::entry(const std::string& name) const {
  const auto it = header_.tensors.find(name);
  KVMIX_CHECK(it != header_.tensors.end(), "{}: no tensor '{}'", path_, name);
  return it->second;
}

at::Tensor SafetensorsFile::read(const std::string& name) const {
  const SafetensorsEntry& e = entry(name);
  const auto type = safetensors_scalar_type(e.dtype);
  KVMIX_CHECK(type.has_value(),
              "tensor '{}' in {} has dtype {}, which kvmix does not read (F32, F16, BF16 only)",
              name, path_, safetensors_dtype_name(e.dtype));
  at::Tensor t = at::empty(e.shape, at::TensorOptions().dtype(*type));
  // [begin, end) was checked against the file size and the shape when the header was parsed.
  if (e.end > e.begin)
    std::memcpy(t.data_ptr(), map_ + header_.data_start + e.begin, e.end - e.begin);
  return t;
}

}  // namespace kvmix
