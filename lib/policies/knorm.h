#pragma once
// Knorm (Devoto et al., "A Simple and Effective L2 Norm-Based Strategy for KV Cache Compression",
// arXiv 2406.11430): keys with a small L2 norm draw high attention, so each head keeps the tokens
// whose keys have the smallest norm. No attention is needed, so it fits attention kernels that
// never materialize the probabilities.
//   score     s(j) = -||k_j||_2, per KV head, on the key as stored (RoPE applied: a rotation, so
//             the norm is the pre-RoPE one)
//   capacity  n = floor(head budget / (fp16 K + V bytes + index))
//   kept      the n tokens with the largest s(j) (smallest norm), per head
// The same rule as kvpress's KnormPress. kvpress applies it at prefill only; here, as every kvmix
// policy, it holds the budget at every decode step too, so a new token whose key norm is large is
// evicted as soon as it is written (no recent window: the paper has none).
// The score is recomputed from the stored keys: no state. Per kept token and head: a 32-bit
// position index, 4 bytes. No parameters.
#include <string>

#include "lib/policies/token_policy.h"

namespace kvmix {

class KnormPolicy : public TokenPolicy {
 public:
  std::string describe() const override { return "Knorm"; }
  Allocation allocate(const PolicyStep& step, const TierCosts& costs) override;
};

}  // namespace kvmix
