#pragma once
// Safetensors files as at::Tensor: a memory-mapped reader and an atomic streaming writer.
// The byte layout and every check on it live in lib/io/safetensors_header.h.
#include <ATen/core/Tensor.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lib/io/safetensors_header.h"

namespace kvmix {

// The dtypes kvmix reads and writes: F32, F16, BF16. nullopt / kvmix::Error for the others.
std::optional<at::ScalarType> safetensors_scalar_type(SafetensorsDtype d);
SafetensorsDtype safetensors_dtype_of(at::ScalarType t, const std::string& tensor_name);

// A safetensors file, mapped read-only, its header validated when opened (a truncated, lying or
// malformed file throws kvmix::Error naming it before any tensor byte is touched).
//
// read() returns an owned COPY, not a view over the mapping:
//  - the mapping is read-only, and a view handed to code that updates weights in place (the
//    trainer, an in-place cast) would fault instead of throwing;
//  - a tensor starts at byte 8 + N + BEGIN, which the spec does not align to the element size,
//    while ATen's vectorized kernels assume aligned elements;
//  - a copy does not pin the file, so a checkpoint can be rewritten while its tensors live, and a
//    file truncated by someone else after open() cannot fault later inside a matmul.
// The mapping still pays off: reading one tensor touches only its own pages, and the loader's
// conversion to the compute dtype is the one copy most weights need anyway.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const SafetensorsHeader& header() const { return header_; }
  bool contains(const std::string& name) const { return header_.tensors.count(name) > 0; }
  // Throws kvmix::Error naming the file and the tensor when it is absent.
  const SafetensorsEntry& entry(const std::string& name) const;
  // The tensor on the CPU, contiguous, in its stored dtype. Throws for dtypes kvmix does not read.
  at::Tensor read(const std::string& name) const;

 private:
  std::string path_;
  const uint8_t* map_ = nullptr;
  uint64_t size_ = 0;
  SafetensorsHeader header_;
};

struct NamedTensor {
  std::string name;
  at::Tensor tensor;  // any device and layout
};

// Writes `tensors` and string `metadata` to `path` atomically (temporary file, fsync, rename),
// streaming one tensor at a time so no copy of the whole file is built in memory. Each tensor is
// stored in its own dtype, or converted to `storage_dtype` when given; either must be F32, F16 or
// BF16. Names must be unique and not "__metadata__".
void write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {},
                       std::optional<at::ScalarType> storage_dtype = std::nullopt);

}  // namespace kvmix
