#include "lib/cache/full_kv_cache.h"

#include <ATen/ATen.h>

#include "lib/dense_attention.h"

namespace kvmix {

FullKvCache::FullKvCache(const KvShape& shape)
    : KvCache(shape), layers_(static_cast<size_t>(shape.layers)) {}

at::Tensor FullKvCache::attend(int64_t layer, const at::Tensor& q, const at::Tensor& k,
                               const at::Tensor& v) {
  auto& store = layers_.at(static_cast<size_t>(layer));
  store.append(k, v, step_valid());
  at::Tensor probs;
  auto keys = store.keys(), values = store.values(), valid = store.valid();
  auto out = dense_attention(q, keys, values, valid, observer() ? &probs : nullptr);
  if (observer()) observer()->on_attention({layer, q, k, v, keys, values, valid, probs, out});
  return out;
}

int64_t FullKvCache::true_bytes() const {
  // Every slot of every layer, K and V, in the model dtype. Padding slots are not counted: a
  // serving engine does not store them.
  int64_t slots = 0;
  for (const auto& s : layers_)
    if (s.size() > 0) slots += s.valid().sum().item<int64_t>();
  return 2 * slots * shape().kv_heads * shape().head_dim * shape().model_dtype_bytes;
}

}  // namespace kvmix
