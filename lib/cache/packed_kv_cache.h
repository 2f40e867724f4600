#pragma once
// The packed mixed-precision cache: kvmix's own runtime. Each layer stores its keys and values as
// packed codes with scales and zero-points (kernels/quant_format.h) plus a full-precision residual
// window of the newest tokens, under KIVI's rules (lib/kv_quant_rules.h). Decoding one token runs
// the fused attention kernel over the codes without dequantizing the cache; a prefill chunk (or an
// observer, which needs the probabilities) dequantizes the past and uses dense attention.
// Memory is what the buffers hold, in true bytes.
#include <vector>

#include "kernels/ops.h"
#include "lib/cache/growable_tensor.h"
#include "lib/cache/kv_cache.h"
#include "lib/kv_pair.h"

namespace kvmix {

class PackedKvCache : public KvCache {
 public:
  PackedKvCache(const KvShape& shape, std::vector<LayerKvFormat> formats);
  at::Tensor attend(int64_t layer, const at::Tensor& q, const at::Tensor& k,
                    const at::Tensor& v) override;
  // Formula over each sequence's real tokens (layered_true_bytes), as for the fake-quant cache.
  int64_t true_bytes() const override;
  // What the buffers hold right now, padding slots included: codes, scales, zeros and the
  // residual at shape().model_dtype_bytes per element. Equals true_bytes() for one sequence.
  int64_t buffer_bytes() const;
  std::string describe() const override;

 private:
  struct Side {                    // the keys or the values of one layer
    QuantFormat format;
    GrowableTensor codes{2}, scales{2}, zeros{2};
    int64_t quantized = 0;         // slots held as codes
    at::Tensor residual;           // [B, H, r, D] newest slots, model dtype
    PackedTensor packed() const;   // a view of the codes (tokens = quantized)
    at::Tensor dequantized(at::ScalarType dtype) const;  // [B, H, quantized, D]
  };
  struct Layer {
    Side k, v;
    GrowableTensor valid{1};       // [B, slots]
  };
  void flush(Side& s, const at::Tensor& valid, int64_t slots);
  std::vector<LayerKvFormat> formats_;
  std::vector<Layer> layers_;
};

}  // namespace kvmix
