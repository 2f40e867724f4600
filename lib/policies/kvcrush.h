#pragma once
// KVCrush (Jha et al., "KVCrush: Key value cache size-reduction using similarity in
// head-behaviour", arXiv 2503.00022, §3): on top of a base eviction policy, keep a few
// representatives of the tokens the base policy evicts, chosen so that they cover the different
// ways the heads attend.
//   head-behaviour vector  per token j of a layer, one bit per attention (query) head h: 1 when
//                          h's accumulated attention to j is at least h's mean over the live tokens
//                          (j matters to h). Query heads, not KV heads: on a grouped-query model
//                          the KV heads are too few (2 on the built-in model) for the Hamming
//                          distance to separate anything, and an earlier version used them
//   anchor                 the majority vector of the evicted candidates (bit h = 1 when at least
//                          half of them have it); the paper offers random, alternating and mean
//                          anchors, kvmix uses this deterministic one
//   distance               Hamming distance of each candidate's vector to the anchor
//   representatives        the candidates sorted by (distance, position), r of them taken evenly
//                          over that order: the ones at floor((i + 1/2) m / r), i = 0 .. r-1, of m
//   budget                 capacity n = floor(head budget / (fp16 K + V + per-token bytes));
//                          the base policy (H2O on the layer's attention summed over heads, recent
//                          half) keeps n - r, with r = floor(crush_ratio * n)
// The selection is per layer (the vector spans the heads), so the index is shared; the state is
// the fp32 accumulated attention of every query head (the base policy's score is their sum):
// (4 + 4 * q_heads) / kv_heads bytes per token and KV head.
// Defaults: crush_ratio 0.25.
#include "lib/policies/h2o.h"
#include "lib/policies/token_policy.h"

namespace kvmix {

struct KvCrushOptions {
  double crush_ratio = 0.25;
};

class KvCrushPolicy : public TokenPolicy {
 public:
  KvCrushPolicy(int64_t layers, KvCrushOptions o = {});
  std::string describe() const override;
  double per_token_bytes(const KvShape& s) const override {
    return (4.0 + 4.0 * static_cast<double>(s.q_heads)) / static_cast<double>(s.kv_heads);
  }
  Allocation allocate(const PolicyStep& step, const TierCosts& costs) override;

 private:
  KvCrushOptions o_;
  std::vector<GrowableTensor> acc_;  // per layer [B, Hq, slots] fp32: accumulated attention
};

// The representatives among `candidate` [T] bool: Hamming distance of bits [H, T] to the majority
// anchor of the candidates, sorted by (distance, position), r picked evenly. Returns slot indices.
std::vector<int64_t> crush_representatives(const at::Tensor& bits, const at::Tensor& candidate,
                                           int64_t r);

}  // namespace kvmix
