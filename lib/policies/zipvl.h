#pragma once
// ZipVL (He et al., "ZipVL: Efficient Large Vision-Language Models with Dynamic Token
// Sparsification and KV Cache Compression", arXiv 2410.08584, §3.2-3.3): per layer, a dynamic
// number of important tokens, set by how concentrated the layer's attention is; important tokens
// at high bits, the rest at low bits.
//   normalized score  s(j) = (sum over the queries so far and all heads of p(i -> j)) / (number of
//                     queries that could attend to j): the column mean, which does not favour
//                     early tokens for having been seen by more queries (ZipCache, arXiv 2405.14256)
//   ratio             sort s descending and normalize to sum 1; n_tau = the smallest k whose top-k
//                     mass reaches tau. Recomputed at every step (the layer's attention changes)
//   tiers             the n_tau highest s at the high tier, the rest at the low tier; under a byte
//                     budget, n_high = min(n_tau, what the budget affords with the rest low), and
//                     when all-low does not fit the lowest s are dropped (fit_two_tiers)
// The selection is per layer, shared by the heads: one 32-bit index per kept token per layer
// (4 / kv_heads bytes per token and head).
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
    return 4.0 / static_cast<double>(s.kv_heads);
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
