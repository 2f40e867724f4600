#pragma once
// The header of a safetensors file, parsed and validated without touching tensor data or torch,
// so the fuzzer can drive it alone (tests/fuzz/fuzz_safetensors.cpp).
//
// Format (https://github.com/huggingface/safetensors, README "Format"):
//   bytes [0, 8)        N, the header size: unsigned 64-bit little-endian
//   bytes [8, 8 + N)    a UTF-8 JSON object, starting with '{', maybe padded with spaces:
//                       {"NAME": {"dtype": "F16", "shape": [1, 16], "data_offsets": [BEGIN, END]},
//                        "__metadata__": {"key": "value", ...}}   (string values only)
//   bytes [8 + N, EOF)  the byte buffer; BEGIN/END are relative to its start, tensors are
//                       row-major little-endian, and the buffer is entirely indexed: no holes,
//                       no overlaps, no duplicate names.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kvmix {

// Every dtype the format spec defines with a whole number of bytes per element. kvmix reads only
// F32, F16 and BF16 (safetensors.h); the others are known so a header holding them can still be
// validated, and refused by name when such a tensor is read.
enum class SafetensorsDtype {
  kBool,
  kU8,
  kI8,
  kF8E5M2,
  kF8E4M3,
  kI16,
  kU16,
  kF16,
  kBF16,
  kI32,
  kU32,
  kF32,
  kF64,
  kI64,
  kU64
};

const char* safetensors_dtype_name(SafetensorsDtype d);  // the spec's spelling: "BF16"
int64_t safetensors_dtype_bytes(SafetensorsDtype d);
std::optional<SafetensorsDtype> parse_safetensors_dtype(const std::string& name);

struct SafetensorsEntry {
  SafetensorsDtype dtype;
  std::vector<int64_t> shape;  // [] is a scalar (one element); a 0 dim means no elements
  uint64_t begin = 0;          // byte range [begin, end) of the byte buffer
  uint64_t end = 0;
};

struct SafetensorsHeader {
  uint64_t data_start = 0;  // file offset of the byte buffer: 8 + N
  std::map<std::string, SafetensorsEntry> tensors;
  std::map<std::string, std::string> metadata;  // "__metadata__"
};

// The reference implementation refuses headers over 100 MB (safetensors/src/tensor.rs,
// MAX_HEADER_SIZE) so a lying length cannot make a reader allocate or parse gigabytes.
constexpr uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;

// Parses the first `file_size` bytes of a safetensors file held in `file` and checks every
// length, offset, shape and dtype against the file size and against each other. Throws
// kvmix::Error naming `source` (and the tensor, when one is at fault) on any inconsistency;
// reads nothing outside [file, file + file_size).
SafetensorsHeader parse_safetensors_header(const uint8_t* file, uint64_t file_size,
                                           const std::string& source);

}  // namespace kvmix
