#pragma once
// The fake-quant cache: keys and values are quantized and immediately dequantized in place (per
// layer, in that layer's formats), following the same residual rules as the packed cache. It
// stores floats, so it saves no memory; it exists because it is fast and simple, which is what the
// profiler needs, and because it must agree with the packed cache (tested).
#include <vector>

#include "lib/cache/dense_kv_store.h"
#include "lib/cache/kv_cache.h"
#include "lib/kv_pair.h"

namespace kvmix {

class FakeQuantKvCache : public KvCache {
 public:
  FakeQuantKvCache(const KvShape& shape, std::vector<LayerKvFormat> formats);
  at::Tensor attend(int64_t layer, const at::Tensor& q, const at::Tensor& k,
                    const at::Tensor& v) override;
  // True bytes of the same contents stored packed (formula per sequence and layer).
  int64_t true_bytes() const override;
  std::string describe() const override;

 private:
  struct Layer {
    DenseKvStore store;       // as attended: dequantized slots, then the full-precision residual
    int64_t k_quantized = 0;  // slots [0, k_quantized) of keys hold dequantized values
    int64_t v_quantized = 0;
  };
  void flush(Layer& L, const LayerKvFormat& f);
  std::vector<LayerKvFormat> formats_;
  std::vector<Layer> layers_;
};

// Sum over sequences and layers of kvmix::true_bytes for K and V of each sequence's real tokens:
// what a serving engine holding these sequences separately would store.
int64_t layered_true_bytes(const KvShape& shape, const std::vector<LayerKvFormat>& formats,
                           const at::Tensor& tokens_seen);

}  // namespace kvmix
