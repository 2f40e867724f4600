#include "lib/policies/zipvl.h"

#include <ATen/ATen.h>
#include <spdlog/fmt/fmt.h>

#include "base/error.h"

namespace kvmix {

at::Tensor tau_count(const at::Tensor& score, const at::Tensor& live, double tau) {
  auto s = score.to(at::kDouble).masked_fill(live.logical_not(), 0.0);
  auto sorted = std::get<0>(s.sort(-1, /*descending=*/true));
  auto total = sorted.sum(-1, /*keepdim=*/true);
  auto share = sorted.cumsum(-1) / total.clamp_min(1e-300);
  // entries needed: those before the first prefix reaching tau, plus that one. A small slack keeps
  // a mass of exactly tau from missing by rounding.
  auto below = share.lt(tau - 1e-12).sum(-1);
  auto n = at::minimum(below + 1, live.sum(-1));
  return at::where(total.squeeze(-1).gt(0), n, at::zeros_like(n));
}

ZipvlPolicy::ZipvlPolicy(int64_t layers, ZipvlOptions o)
    : o_(o), sum_(static_cast<size_t>(layers), GrowableTensor(1)),
      count_(static_cast<size_t>(layers), GrowableTensor(1)) {
  KVMIX_CHECK(o_.tau > 0 && o_.tau <= 1, "ZipVL: tau must be in (0, 1], got {}", o_.tau);
  KVMIX_CHECK(o_.low_bits >= 1 && o_.high_bits <= 8 && o_.high_bits > o_.low_bits,
              "ZipVL: need 1 <= low bits < high bits <= 8, got {} and {}", o_.low_bits, o_.high_bits);
}

std::string ZipvlPolicy::describe() const {
  return fmt::format("ZipVL (tau {}, {}/{} bits)", o_.tau, o_.high_bits, o_.low_bits);
}

TierFormats ZipvlPolicy::formats() const {
  TierFormats f;
  f.k_high = f.v_high = uniform_format(o_.high_bits, QuantAxis::kPerToken, 0);
  f.k_low = f.v_low = uniform_format(o_.low_bits, QuantAxis::kPerToken, 0);
  return f;
}

Allocation ZipvlPolicy::allocate(const PolicyStep& s, const TierCosts& c) {
  const int64_t B = s.tier.size(0), Hkv = s.tier.size(1), Tk = s.tier.size(2);
  const int64_t Tq = s.query_valid.size(1);
  auto& sum = sum_.at(static_cast<size_t>(s.layer));
  auto& count = count_.at(static_cast<size_t>(s.layer));
  const auto on_device = s.tier.options();
  sum.append(at::zeros({B, Tq}, on_device.dtype(at::kDouble)));
  count.append(at::zeros({B, Tq}, on_device.dtype(at::kDouble)));
  sum.view().add_(head_attention(s).sum(1).to(at::kDouble));
  // queries of this step that see slot j: real queries at slot >= j
  auto qslot = at::arange(s.tokens_before, Tk, on_device.dtype(at::kLong)).view({1, Tq, 1});
  auto sees = qslot.ge(at::arange(Tk, on_device.dtype(at::kLong)).view({1, 1, Tk}))
                  .logical_and(s.query_valid.unsqueeze(-1));
  count.view().add_(sees.to(at::kDouble).sum(1));
  auto normalized = sum.view() / count.view().clamp_min(1.0);  // [B, Tk]

  const auto live = live_slots(s.tier);  // equal over heads: the selection is shared
  // p from the raw column sums, the choice of tokens from the normalized scores
  const auto n_tau = tau_count(sum.view(), live.select(1, 0), o_.tau);
  auto [n_high, n_low] = fit_two_tiers(s.head_budget, live.sum(-1), c,
                                       n_tau.unsqueeze(1).expand({B, Hkv}));
  return {normalized.unsqueeze(1).expand({B, Hkv, Tk}).contiguous(), n_high, n_low};
}

}  // namespace kvmix
