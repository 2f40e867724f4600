#pragma once
// ZipVL (He et al., "ZipVL: Efficient Large Vision-Language Models with Dynamic Token
// Sparsification and KV Cache Compression", arXiv 2410.08584, §3.2-3.3): per layer, a dynamic
// number of important tokens, set by how concentrated the layer's attention is; important tokens
// at high bits, the rest at low bits.
//   accumulated a(j) = sum over the queries so far and all heads of the layer of p(i -> j): the
//                     column sum of the layer's attention
//   ratio             the number of important tokens p = the smallest p whose top-p accumulated
//                     attention reaches tau of the total: sort a descending, p = the first prefix
//                     with sum >= tau * sum(a) (the paper's Eq. 4, on the raw column sums).
//                     Recomputed at every step (the layer's attention changes)
//   normalized score  s(j) = a(j) / (number of queries that could attend to j): the column mean,
//                     which does not favour early tokens for having been seen by more queries
//                     (ZipCache, arXiv 2405.14256). It chooses WHICH p tokens are important; it does
//                     not set p (under causal attention the column means are nearly flat, and a p
//                     counted from them kept most tokens high at tau 0.975: an earlier version's bug)
//   tiers             the p highest s at the high tier, the rest at the low tier; under a byte
//                     budget, n_high = min(p, what the budget affords with the rest low), and
//                     when all-low does not fit the lowest s are dropped (fit_two_tiers)
// The selection is per layer, shared by the heads: one 32-bit index per kept token per layer, and
// the layer's fp32 accumulated attention a(j), the state later steps add to (the query count is
// the token's position, not stored): 8 / kv_heads bytes per token and head.
// Defaults: tau 0.975; high 4 bits, low 2 bits, per token, asymmetric, G = D, fp16 scale and zero.
#include <vector>

#include "lib/cache/growable_tensor.h"
#include "lib/policies/token_policy.h"

namespace kvmix {

struct ZipvlOptions {
  double tau = 0.975;
  int high_bits = 4;
  int low_bits = 2;
};

class ZipvlPolicy : public TokenPolicy {
 public:
  ZipvlPolicy(int64_t layers, ZipvlOptions o = {});
  std::string describe() const override;
  TierFormats formats() const override;
  double per_token_bytes(const KvShape& s) const override {
    return 8.0 / static_cast<double>(s.kv_heads);
  }
  Allocation allocate(const PolicyStep& step, const TierCosts& costs) override;

 private:
  ZipvlOptions o_;
  std::vector<GrowableTensor> sum_, count_;  // per layer [B, slots]: attention sum, queries
};

// The number of top entries of each row of `score` [B, T] (only where live [B, T]) whose share of
// the row's live total reaches tau: [B] int64 (0 for a row with no mass).
at::Tensor tau_count(const at::Tensor& score, const at::Tensor& live, double tau);

}  // namespace kvmix
