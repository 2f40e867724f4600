#pragma once
// Hand-made policy steps: one sequence, one layer, a given attention matrix.
#include <ATen/ATen.h>

#include <vector>

#include "lib/policies/token_policy.h"

namespace kvmix::test {

// The six-token prefill the policy tests compute by hand (rows: queries, columns: keys; causal,
// each row sums to 1). Column sums (H2O's accumulated attention):
//   0: 3.30  1: 0.85  2: 0.95  3: 0.48  4: 0.30  5: 0.12
inline at::Tensor six_token_attention() {
  return at::tensor({1.0, 0.0, 0.0, 0.0, 0.0, 0.0,    //
                     0.5, 0.5, 0.0, 0.0, 0.0, 0.0,    //
                     0.6, 0.1, 0.3, 0.0, 0.0, 0.0,    //
                     0.5, 0.1, 0.1, 0.3, 0.0, 0.0,    //
                     0.4, 0.1, 0.3, 0.1, 0.1, 0.0,    //
                     0.3, 0.05, 0.25, 0.08, 0.2, 0.12},
                    at::kFloat)
      .view({1, 1, 6, 6});
}

// Owns the tensors a PolicyStep refers to. probs [B, Hq, Tq, Tk]; kv_heads divides Hq.
struct HandStep {
  at::Tensor q, keys, probs, query_valid, slot_valid, tier, head_budget;
  int64_t tokens_before = 0;

  HandStep(at::Tensor p, int64_t kv_heads, double head_budget_bytes, int64_t head_dim = 4)
      : probs(std::move(p)) {
    const int64_t B = probs.size(0), Hq = probs.size(1), Tq = probs.size(2), Tk = probs.size(3);
    q = at::zeros({B, Hq, Tq, head_dim});
    keys = at::zeros({B, kv_heads, Tk, head_dim});
    query_valid = at::ones({B, Tq}, at::kBool);
    slot_valid = at::ones({B, Tk}, at::kBool);
    tier = at::full({B, kv_heads, Tk}, static_cast<uint8_t>(Tier::kFull), at::kByte);
    head_budget = at::full({B}, head_budget_bytes, at::kDouble);
    tokens_before = Tk - Tq;
  }
  PolicyStep step(int64_t layer = 0) const {
    return {layer, q, keys, probs, query_valid, slot_valid, tier, head_budget, tokens_before};
  }
};

// The slots of head h of sequence 0 at tier t.
inline std::vector<int64_t> slots_at(const at::Tensor& tiers, Tier t, int64_t h = 0) {
  std::vector<int64_t> out;
  auto row = tiers[0][h];
  for (int64_t j = 0; j < row.size(0); ++j)
    if (row[j].item<uint8_t>() == static_cast<uint8_t>(t)) out.push_back(j);
  return out;
}

}  // namespace kvmix::test
