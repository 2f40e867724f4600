#pragma once
// MiKV (Yang et al., "No Token Left Behind: Reliable KV Cache Compression via Importance-Aware
// Mixed Precision Quantization", arXiv 2402.18096, §3): the tokens an eviction policy would drop
// are kept at low precision instead, and the important ones at high precision.
//   importance  H2O's (lib/policies/h2o.h): accumulated attention, plus the recent half
//   split       every live token is kept at the low tier if the budget affords it, and the most
//               important are moved to the high tier with what is left (fit_two_tiers); when even
//               all-low does not fit, the least important are dropped
//   recent      H2O's recent window at the size of the set being chosen: recent_ratio of the high
//               tier while every token fits at low, recent_ratio of the kept (low) tokens once
//               tokens are dropped. So the newest tokens are never the ones evicted, whatever the
//               budget (an earlier version sized the window by the high tier alone, which is empty
//               under eviction, and evicted each token right after writing it).
//   low tier    K and V per token, asymmetric, `low_bits` (2 to 4), one group per head (G = D),
//               fp16 scale and zero
//   high tier   the model dtype (fp16) by default, or `high_bits` per token
//   balancer    (§3.3) per sequence, layer, KV head and channel c, from the prompt (the layer's
//               first step): b_c = sqrt(max|q_c| / max|k_c|) over the prompt's queries (of the heads
//               sharing the KV head) and keys. Keys are quantized as K·b and queries would be used
//               as Q/b, so QK^T is unchanged while the key outlier channels shrink; here the
//               stored key is dequant(quant(K·b))/b, the same product. b is stored in fp16.
// Bytes: per kept token and head, the 32-bit index and H2O's fp32 score (8); per head and layer,
// the balancer's D fp16 factors.
#include <vector>

#include "lib/policies/h2o.h"
#include "lib/policies/token_policy.h"

namespace kvmix {

struct MikvOptions {
  int low_bits = 2;    // 2, 3 or 4
  int high_bits = 16;  // 16 (model dtype), 8 or 4
  double recent_ratio = 0.5;
  bool balancer = true;
};

class MikvPolicy : public TokenPolicy {
 public:
  MikvPolicy(int64_t layers, MikvOptions o = {});
  std::string describe() const override;
  TierFormats formats() const override;
  double per_token_bytes(const KvShape&) const override { return 8.0; }
  double per_head_bytes(const KvShape& s) const override;
  Allocation allocate(const PolicyStep& step, const TierCosts& costs) override;
  at::Tensor quantize(int64_t layer, Tier tier, bool is_key, const at::Tensor& x,
                      const at::Tensor& moved) const override;

  // The layer's balancer factors [B, Hkv, 1, D] fp32 (undefined before its first step).
  const at::Tensor& balancer(int64_t layer) const { return balance_.at(static_cast<size_t>(layer)); }

 private:
  MikvOptions o_;
  AccumulatedAttention acc_;
  std::vector<at::Tensor> balance_;
};

// b = sqrt(max|q| / max|k|) per channel over the step's real queries and new keys, rounded to fp16;
// 1 where either maximum is 0. q [B, Hq, Tq, D], k_new [B, Hkv, Tq, D], valid [B, Tq] ->
// [B, Hkv, 1, D].
at::Tensor outlier_balancer(const at::Tensor& q, const at::Tensor& k_new, const at::Tensor& valid);

}  // namespace kvmix
