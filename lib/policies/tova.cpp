#include "lib/policies/tova.h"

#include <ATen/ATen.h>

namespace kvmix {

at::Tensor last_query_attention(const PolicyStep& s) {
  const int64_t B = s.probs.size(0), Tq = s.probs.size(2), Tk = s.probs.size(3);
  // index of the last real query: Tq - 1 - (position of the first true in the reversed row)
  auto rev = s.query_valid.flip(1).to(at::kLong);
  auto last = (Tq - 1) - rev.argmax(1);                                       // [B]
  auto rows = s.probs.mean(1);                                                // [B, Tq, Tk]
  auto picked = rows.gather(1, last.view({B, 1, 1}).expand({B, 1, Tk})).squeeze(1);
  return picked * s.query_valid.any(1).to(at::kFloat).unsqueeze(1);
}

Allocation TovaPolicy::allocate(const PolicyStep& s, const TierCosts& c) {
  const int64_t Hkv = s.tier.size(1);
  const auto live = live_slots(s.tier);
  const auto n_keep = fit_one_tier(s.head_budget, live.sum(-1), c.full, c);
  auto score = last_query_attention(s).unsqueeze(1).expand({-1, Hkv, -1}).to(at::kDouble);
  return {score, n_keep, at::zeros_like(n_keep)};
}

}  // namespace kvmix
