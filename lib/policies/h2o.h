#pragma once
// H2O, the heavy-hitter oracle (Zhang et al., arXiv 2306.14048, §3 and Algorithm 1): keep the
// tokens with the largest accumulated attention (heavy hitters) and the most recent tokens.
//   score     a(j) = sum over every query so far (prefill and decode) of the attention it paid to
//             token j, summed over the query heads that share the KV head (grouped-query)
//   capacity  n = floor((head budget) / (fp16 K + V bytes + index + score bytes))
//   kept      the newest r = floor(recent_ratio * n) tokens, and the n - r others with the
//             largest a(j); evicted tokens never come back (greedy, as in the paper)
// Defaults: recent_ratio 0.5 (the paper splits the budget equally, e.g. 10% heavy + 10% recent).
// Per kept token and head: a 32-bit position index and the fp32 accumulated score, 8 bytes.
#include <vector>

#include "lib/cache/growable_tensor.h"
#include "lib/policies/token_policy.h"

namespace kvmix {

struct H2oOptions {
  double recent_ratio = 0.5;
};

// The accumulated attention of every slot of every layer, [B, Hkv, slots] fp32 per layer: H2O's
// score, shared with the policies built on it (MiKV, ZipVL, KVCrush).
class AccumulatedAttention {
 public:
  explicit AccumulatedAttention(int64_t layers) : acc_(static_cast<size_t>(layers), GrowableTensor(2)) {}
  // Grows the layer's scores by the step's new slots and adds the step's attention.
  const at::Tensor& update(const PolicyStep& s);

 private:
  std::vector<GrowableTensor> acc_;
  at::Tensor last_;
};

// H2O's priority for a kept count n_keep [B, Hkv]: the newest floor(recent_ratio * n_keep) live
// slots protected, the rest ranked by score [B, Hkv, Tk].
at::Tensor heavy_recent_priority(const at::Tensor& score, const at::Tensor& live,
                                 const at::Tensor& n_keep, double recent_ratio);

class H2oPolicy : public TokenPolicy {
 public:
  H2oPolicy(int64_t layers, H2oOptions o = {});
  std::string describe() const override;
  double per_token_bytes(const KvShape&) const override { return 8.0; }
  Allocation allocate(const PolicyStep& step, const TierCosts& costs) override;

 private:
  H2oOptions o_;
  AccumulatedAttention acc_;
};

}  // namespace kvmix
