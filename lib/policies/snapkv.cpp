#include "lib/policies/snapkv.h"

#include <ATen/ATen.h>
#include <spdlog/fmt/fmt.h>

#include "base/error.h"

namespace kvmix {

SnapKvPolicy::SnapKvPolicy(int64_t layers, SnapKvOptions o)
    : o_(o), score_(static_cast<size_t>(layers), GrowableTensor(2)) {
  KVMIX_CHECK(o_.window >= 1, "SnapKV: observation window must be >= 1, got {}", o_.window);
  KVMIX_CHECK(o_.kernel >= 1 && o_.kernel % 2 == 1, "SnapKV: pooling kernel must be odd, got {}",
              o_.kernel);
}

std::string SnapKvPolicy::describe() const {
  return fmt::format("SnapKV (window {}, kernel {})", o_.window, o_.kernel);
}

at::Tensor snapkv_scores(const PolicyStep& s, int64_t window, int64_t kernel) {
  const int64_t B = s.probs.size(0), Hq = s.probs.size(1), Tq = s.probs.size(2);
  const int64_t Tk = s.probs.size(3), Hkv = s.tier.size(1);
  // the window: the last `window` real queries of the step, per sequence
  auto qv = s.query_valid.to(at::kLong);
  auto from_end = qv.flip(1).cumsum(1).flip(1);                 // real queries at or after i
  auto in_window = s.query_valid.logical_and(from_end.le(window));  // [B, Tq]
  auto votes = (s.probs.view({B, Hkv, Hq / Hkv, Tq, Tk}) *
                in_window.to(at::kFloat).view({B, 1, 1, Tq, 1}))
                   .sum({2, 3});                                // [B, Hkv, Tk]
  // slots of the window's queries (and any later slot) are kept like recent tokens; the pooling
  // sees the prefix only (the reference pools attn[..., :-window])
  auto first_window_slot = (s.tokens_before + in_window.to(at::kLong).argmax(1)).view({B, 1, 1});
  auto slot = at::arange(Tk, qv.options()).view({1, 1, Tk});
  auto protect = slot.ge(first_window_slot).expand({B, Hkv, Tk});
  votes = votes.masked_fill(protect, 0.0f);
  auto pooled = at::avg_pool1d(votes.reshape({B * Hkv, 1, Tk}), {kernel}, {1}, {kernel / 2})
                    .view({B, Hkv, Tk});
  return at::where(protect, protected_priority(slot.expand({B, Hkv, Tk})), pooled.to(at::kDouble));
}

Allocation SnapKvPolicy::allocate(const PolicyStep& s, const TierCosts& c) {
  auto& score = score_.at(static_cast<size_t>(s.layer));
  const int64_t B = s.tier.size(0), Hkv = s.tier.size(1), Tq = s.query_valid.size(1);
  const int64_t Tk = s.tier.size(2);
  // decoded (and not yet voted) slots are protected, newest first
  auto slot = at::arange(s.tokens_before, Tk, s.tier.options().dtype(at::kLong))
                  .view({1, 1, Tq})
                  .expand({B, Hkv, Tq});
  score.append(protected_priority(slot).contiguous());
  if (Tq > 1) {
    auto fresh = snapkv_scores(s, o_.window, o_.kernel);
    // sequences whose step holds no real query keep their scores
    auto stepped = s.query_valid.any(1).view({B, 1, 1});
    score.view().copy_(at::where(stepped, fresh, score.view()));
  }
  const auto live = live_slots(s.tier);
  const auto n_keep = fit_one_tier(s.head_budget, live.sum(-1), c.full, c);
  return {score.view(), n_keep, at::zeros_like(n_keep)};
}

}  // namespace kvmix
