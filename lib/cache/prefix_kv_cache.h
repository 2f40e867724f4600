#pragma once
// A one-step cache over a given prefix: each layer attends to that layer's stored past keys and
// values (as given: full precision, or a quantized copy for one layer) plus the step's new tokens,
// and stores nothing. The profiler uses it to replay one continuation chunk many times over the
// same prefilled prompt with a different layer quantized each time, without copying the prefix.
#include <vector>

#include "lib/cache/kv_cache.h"

namespace kvmix {

class PrefixKvCache : public KvCache {
 public:
  // keys[l], values[l] [B, Hkv, P, D]; valid [B, P]; seen [B] real tokens in the prefix.
  PrefixKvCache(const KvShape& shape, std::vector<at::Tensor> keys, std::vector<at::Tensor> values,
                at::Tensor valid, at::Tensor seen);
  // Replaces one layer's past (e.g. with its quantized version).
  void set_layer(int64_t layer, at::Tensor keys, at::Tensor values);
  at::Tensor attend(int64_t layer, const at::Tensor& q, const at::Tensor& k,
                    const at::Tensor& v) override;
  int64_t true_bytes() const override { return 0; }  // a measuring device, not a storage policy
  std::string describe() const override { return "prefix replay"; }

 private:
  std::vector<at::Tensor> keys_, values_;
  at::Tensor valid_;
};

}  // namespace kvmix
