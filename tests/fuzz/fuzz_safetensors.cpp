// libFuzzer target: parse_safetensors_header on arbitrary bytes. For damaged input the expected
// outcome is a kvmix::Error; a crash, a sanitizer report, another exception escaping, or an
// accepted header that breaks the spec's invariants is a bug. Run by scripts/fuzz.sh; each
// crash it finds becomes a file in tests/fuzz/regressions/safetensors/.
#include <cstddef>
#include <cstdint>
#include <string>

#include "base/error.h"
#include "lib/io/safetensors_header.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kvmix;
  SafetensorsHeader h;
  try {
    h = parse_safetensors_header(data, size, "fuzz-input");
  } catch (const Error&) {
    return 0;
  }
  // What the parser accepts, a reader will copy: each range must lie in the file and match its
  // shape, and the ranges must tile the byte buffer exactly.
  uint64_t covered = 0;
  uint8_t checksum = 0;
  for (const auto& [name, e] : h.tensors) {
    KVMIX_ASSERT(e.begin <= e.end && h.data_start + e.end <= size, "tensor '{}' out of range",
                 name);
    uint64_t numel = 1;
    for (int64_t d : e.shape) numel *= static_cast<uint64_t>(d);
    KVMIX_ASSERT(numel * safetensors_dtype_bytes(e.dtype) == e.end - e.begin, "tensor '{}'", name);
    covered += e.end - e.begin;
    // Touch every byte of the range so AddressSanitizer checks it.
    for (uint64_t i = e.begin; i < e.end; ++i) checksum ^= data[h.data_start + i];
  }
  volatile uint8_t sink = checksum;  // keeps the reads from being optimized away
  (void)sink;
  KVMIX_ASSERT(covered == size - h.data_start, "accepted a buffer with holes");
  return 0;
}
