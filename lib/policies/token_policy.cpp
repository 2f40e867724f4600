#include "lib/policies/token_policy.h"

#include <ATen/ATen.h>

#include "kernels/ops.h"
#include "base/error.h"

namespace kvmix {

at::Tensor TokenPolicy::quantize(int64_t layer, Tier tier, bool is_key, const at::Tensor& x,
                                 const at::Tensor& /*moved*/) const {
  const TierFormats f = formats();
  const QuantFormat& fmt = tier == Tier::kHigh ? (is_key ? f.k_high : f.v_high)
                                               : (is_key ? f.k_low : f.v_low);
  KVMIX_ASSERT(tier == Tier::kHigh || tier == Tier::kLow);
  if (fmt.kind == QuantKind::kNone) return x;
  return fake_quant(x.contiguous(), fmt);
}

double TokenPolicy::tier_bytes(const KvShape& s, Tier tier) const {
  const TierFormats f = formats();
  const QuantFormat& k = tier == Tier::kHigh ? f.k_high : f.k_low;
  const QuantFormat& v = tier == Tier::kHigh ? f.v_high : f.v_low;
  return static_cast<double>(true_bytes(1, 1, s.head_dim, k, s.model_dtype_bytes) +
                             true_bytes(1, 1, s.head_dim, v, s.model_dtype_bytes));
}

at::Tensor assign_tiers(const at::Tensor& tier, const Allocation& a, Tier high) {
  const int64_t B = tier.size(0), Hkv = tier.size(1), Tk = tier.size(2);
  KVMIX_ASSERT(a.priority.sizes() == tier.sizes(), "policy priority shape");
  KVMIX_ASSERT(a.n_high.size(0) == B && a.n_high.size(1) == Hkv && a.n_low.sizes() == a.n_high.sizes());
  const auto live = live_slots(tier);
  // rank of each live slot by priority within its head (0 = kept first); a stable sort keeps ties
  // in slot order, so heads with equal priorities keep equal sets
  auto prio = a.priority.to(at::kDouble).masked_fill(live.logical_not(), -1e300);
  auto order = std::get<1>(at::sort(prio, c10::optional<bool>(true), -1, /*descending=*/true));
  auto rank = at::empty_like(order);
  rank.scatter_(-1, order, at::arange(Tk, order.options()).expand_as(order).contiguous());
  auto nf = a.n_full.defined() ? a.n_full.unsqueeze(-1) : at::zeros_like(a.n_high.unsqueeze(-1));
  auto nh = nf + a.n_high.unsqueeze(-1), nl = a.n_low.unsqueeze(-1);
  auto byte = [&](Tier t) { return at::full({}, static_cast<uint8_t>(t), tier.options()); };
  auto assigned = at::where(
      rank < nf, byte(Tier::kFull),
      at::where(rank < nh, byte(high),
                at::where(rank < nh + nl, byte(Tier::kLow), byte(Tier::kDropped))));
  assigned = at::where(live, assigned, byte(Tier::kDropped));
  return at::minimum(assigned, tier);
}

at::Tensor head_attention(const PolicyStep& s) {
  const int64_t B = s.probs.size(0), Hq = s.probs.size(1), Tq = s.probs.size(2);
  const int64_t Tk = s.probs.size(3), Hkv = s.tier.size(1);
  auto qv = s.query_valid.to(at::kFloat).view({B, 1, 1, Tq, 1});
  return (s.probs.view({B, Hkv, Hq / Hkv, Tq, Tk}) * qv).sum({2, 3});
}

at::Tensor live_slots(const at::Tensor& tier) {
  return tier.ne(static_cast<uint8_t>(Tier::kDropped));
}

at::Tensor recency_rank(const at::Tensor& live) {
  // live slots strictly newer than each slot = reverse inclusive cumsum minus itself
  auto l = live.to(at::kLong);
  auto newer = l.flip(-1).cumsum(-1).flip(-1) - l;
  return at::where(live, newer, at::full_like(newer, int64_t{1} << 40));
}

at::Tensor sequence_positions(const at::Tensor& slot_valid) {
  auto pos = slot_valid.to(at::kLong).cumsum(-1) - 1;
  return pos.masked_fill(slot_valid.logical_not(), -1);
}

at::Tensor fit_one_tier(const at::Tensor& head_budget, const at::Tensor& live, double cost,
                        const TierCosts& c) {
  KVMIX_ASSERT(cost + c.per_token > 0);
  auto afford = ((head_budget - c.per_head) / (cost + c.per_token)).floor().clamp_min(0);
  return at::minimum(afford.to(at::kLong).unsqueeze(1), live);
}

std::pair<at::Tensor, at::Tensor> fit_two_tiers(const at::Tensor& head_budget,
                                                const at::Tensor& live, const TierCosts& c,
                                                const at::Tensor& max_high) {
  KVMIX_ASSERT(c.high > c.low, "high tier {} bytes, low {}", c.high, c.low);
  const auto n = live.to(at::kDouble);                                   // [B, Hkv]
  // [B] (one budget per sequence) or [B, Hkv] (per head) -> broadcastable to [B, Hkv]
  const auto per_head = head_budget.dim() == 1 ? head_budget.unsqueeze(1) : head_budget;
  const auto budget = (per_head - c.per_head).clamp_min(0);
  const double low_each = c.low + c.per_token;
  const auto all_low = n * low_each;
  const auto fits = all_low.le(budget);
  // every token low, then upgrades of (high - low) bytes each with what is left
  auto upgrades = ((budget - all_low) / (c.high - c.low)).floor().clamp_min(0);
  auto n_high = at::where(fits, at::minimum(upgrades, n), at::zeros_like(n)).to(at::kLong);
  if (max_high.defined()) n_high = at::minimum(n_high, max_high);
  auto n_low_if_fit = live - n_high;
  auto n_low_if_not = (budget / low_each).floor().to(at::kLong).expand_as(live);
  auto n_low = at::where(fits, n_low_if_fit, at::minimum(n_low_if_not, live));
  return {n_high, n_low};
}

at::Tensor protected_priority(const at::Tensor& slot_index) {
  return slot_index.to(at::kDouble) + kProtectedPriority;
}

}  // namespace kvmix
