#include "lib/cache/fake_quant_kv_cache.h"

#include <ATen/ATen.h>

#include "kernels/ops.h"
#include "lib/dense_attention.h"
#include "base/error.h"
#include "lib/kv_quant_rules.h"

namespace kvmix {

FakeQuantKvCache::FakeQuantKvCache(const KvShape& shape, std::vector<LayerKvFormat> formats)
    : KvCache(shape), formats_(std::move(formats)), layers_(static_cast<size_t>(shape.layers)) {
  KVMIX_CHECK(static_cast<int64_t>(formats_.size()) == shape.layers,
              "KV config has {} layers, the model {}", formats_.size(), shape.layers);
}

at::Tensor FakeQuantKvCache::attend(int64_t layer, const at::Tensor& q, const at::Tensor& k,
                                    const at::Tensor& v) {
  Layer& L = layers_.at(static_cast<size_t>(layer));
  L.store.append(k, v, step_valid());
  at::Tensor probs;
  auto keys = L.store.keys(), values = L.store.values(), valid = L.store.valid();
  auto out = dense_attention(q, keys, values, valid, observer() ? &probs : nullptr);
  if (observer()) observer()->on_attention({layer, q, k, v, keys, values, valid, probs, out});
  flush(L, formats_[static_cast<size_t>(layer)]);
  return out;
}

void FakeQuantKvCache::flush(Layer& L, const LayerKvFormat& f) {
  auto keys = L.store.keys(), values = L.store.values();
  const auto valid = L.store.valid();
  L.k_quantized = fake_quant_slots(keys, valid, f.k, L.k_quantized);
  L.v_quantized = fake_quant_slots(values, valid, f.v, L.v_quantized);
}

int64_t layered_true_bytes(const KvShape& shape, const std::vector<LayerKvFormat>& formats,
                           const at::Tensor& tokens_seen) {
  if (!tokens_seen.defined()) return 0;
  int64_t total = 0;
  // One copy to the host instead of a device round trip per sequence.
  auto seen = tokens_seen.to(at::kCPU).contiguous();
  for (int64_t b = 0; b < seen.size(0); ++b) {
    const int64_t t = seen[b].item<int64_t>();
    for (const auto& f : formats)
      total += true_bytes(shape.kv_heads, t, shape.head_dim, f.k, shape.model_dtype_bytes) +
               true_bytes(shape.kv_heads, t, shape.head_dim, f.v, shape.model_dtype_bytes);
  }
  return total;
}

int64_t FakeQuantKvCache::true_bytes() const {
  return layered_true_bytes(shape(), formats_, tokens_seen());
}

std::string FakeQuantKvCache::describe() const {
  return "fake-quant, layer 0: K " + format_name(formats_.front().k) + " V " +
         format_name(formats_.front().v);
}

}  // namespace kvmix
