#include "lib/policies/knorm.h"

#include <ATen/ATen.h>

namespace kvmix {

Allocation KnormPolicy::allocate(const PolicyStep& s, const TierCosts& c) {
  const auto live = live_slots(s.tier);
  const auto n_keep = fit_one_tier(s.head_budget, live.sum(-1), c.full, c);
  // the norm in double: fp16 keys would otherwise tie distinct tokens and leave the choice to the
  // sort's tie order
  auto score = at::linalg_vector_norm(s.keys.to(at::kDouble), 2, {-1}).neg();  // [B, Hkv, Tk]
  return {score, n_keep, at::zeros_like(n_keep)};
}

}  // namespace kvmix
