// write_safetensors (declared in lib/io/safetensors.h): the header is computed from shapes and
// dtypes alone, then the tensors are streamed after it one at a time.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>

#include "lib/io/atomic_file_stream.h"
#include "base/error.h"
#include "lib/io/safetensors.h"

namespace kvmix {
namespace {

// The byte buffer starts 8-aligned when 8 + N is a multiple of 8; the spec allows padding the
// header with trailing spaces for exactly this (README: "The header data MAY be trailing padded
// with whitespace (0x20)"), and the reference writer does the same.
constexpr size_t kBufferAlignment = 8;

}  // namespace

void write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata,
                       std::optional<at::ScalarType> storage_dtype) {
  std::set<std::string> seen;
  for (const auto& t : tensors) {
    KVMIX_CHECK(t.name != "__metadata__", "{}: '__metadata__' is reserved, not a tensor name",
                path);
    KVMIX_CHECK(seen.insert(t.name).second, "{}: tensor '{}' given twice", path, t.name);
    KVMIX_CHECK(t.tensor.defined(), "{}: tensor '{}' is undefined", path, t.name);
  }
  // Larger elements first, as the reference writer orders them: with an 8-aligned buffer every
  // tensor then starts aligned to its own element size, for readers that map without copying.
  std::vector<size_t> order(tensors.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::vector<SafetensorsDtype> dtypes;
  for (const auto& t : tensors)
    dtypes.push_back(safetensors_dtype_of(storage_dtype.value_or(t.tensor.scalar_type()), t.name));
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return safetensors_dtype_bytes(dtypes[a]) > safetensors_dtype_bytes(dtypes[b]);
  });

  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (size_t i : order) {
    const at::Tensor& t = tensors[i].tensor;
    const uint64_t bytes = static_cast<uint64_t>(t.numel()) * safetensors_dtype_bytes(dtypes[i]);
    header[tensors[i].name] = {{"dtype", safetensors_dtype_name(dtypes[i])},
                               {"shape", t.sizes().vec()},
                               {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((kBufferAlignment - (8 + text.size()) % kBufferAlignment) % kBufferAlignment, ' ');

  AtomicFileStream out(path);
  uint8_t length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(uint64_t{text.size()} >> (8 * i));
  out.write(length, sizeof length);
  out.write(text.data(), text.size());
  for (size_t i : order) {
    // One tensor at a time on the CPU in its stored dtype: the only copy this function makes.
    const at::Tensor c =
        tensors[i].tensor.to(at::kCPU, *safetensors_scalar_type(dtypes[i])).contiguous();
    out.write(c.data_ptr(), c.nbytes());
  }
  out.commit();
}

}  // namespace kvmix
