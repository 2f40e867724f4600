#include "lib/cache/prefix_kv_cache.h"

#include <ATen/ATen.h>

#include "lib/dense_attention.h"
#include "base/error.h"

namespace kvmix {

PrefixKvCache::PrefixKvCache(const KvShape& shape, std::vector<at::Tensor> keys,
                             std::vector<at::Tensor> values, at::Tensor valid, at::Tensor seen)
    : KvCache(shape), keys_(std::move(keys)), values_(std::move(values)), valid_(std::move(valid)) {
  KVMIX_ASSERT(static_cast<int64_t>(keys_.size()) == shape.layers && values_.size() == keys_.size());
  set_tokens_seen(seen);
}

void PrefixKvCache::set_layer(int64_t layer, at::Tensor keys, at::Tensor values) {
  keys_.at(static_cast<size_t>(layer)) = std::move(keys);
  values_.at(static_cast<size_t>(layer)) = std::move(values);
}

at::Tensor PrefixKvCache::attend(int64_t layer, const at::Tensor& q, const at::Tensor& k,
                                 const at::Tensor& v) {
  const size_t l = static_cast<size_t>(layer);
  auto keys = at::cat({keys_[l].to(k.scalar_type()), k}, 2);
  auto values = at::cat({values_[l].to(v.scalar_type()), v}, 2);
  auto valid = at::cat({valid_, step_valid()}, 1);
  at::Tensor probs;
  auto out = dense_attention(q, keys, values, valid, observer() ? &probs : nullptr);
  if (observer()) observer()->on_attention({layer, q, k, v, keys, values, valid, probs, out});
  return out;
}

}  // namespace kvmix
