#include "models/weights_hash.h"

#include <ATen/ATen.h>
#include <spdlog/fmt/fmt.h>

#include <cstring>

namespace kvmix {
namespace {

// 64-bit multiply-xorshift over 8-byte words (the tail zero-padded): one multiply per word keeps a
// multi-GB checkpoint at memory speed, and every bit of every word reaches the state.
struct Hasher {
  uint64_t h = 0x9E3779B97F4A7C15ull;
  void word(uint64_t w) {
    h ^= w + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 31;
  }
  void bytes(const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      word(w);
    }
    if (i < n) {
      uint64_t w = 0;
      std::memcpy(&w, p + i, n - i);
      word(w);
    }
    word(n);
  }
  void text(const std::string& s) { bytes(s.data(), s.size()); }
};

}  // namespace

std::string weights_hash(const Model& m) {
  ModelWeights w = m.weights;  // tensor_slots wants a mutable struct; the tensors are shared, not copied
  Hasher h;
  for (const TensorSlot& slot : tensor_slots(w, m.config)) {
    h.text(slot.name);
    const at::Tensor& t = *slot.tensor;
    if (!t.defined()) {
      h.text("undefined");
      continue;
    }
    h.text(c10::toString(t.scalar_type()));
    for (int64_t d : t.sizes()) h.word(static_cast<uint64_t>(d));
    const at::Tensor c = t.device().is_cpu() ? t.contiguous() : t.to(at::kCPU).contiguous();
    h.bytes(c.data_ptr(), c.nbytes());
  }
  return fmt::format("{:016x}", h.h);
}

}  // namespace kvmix
