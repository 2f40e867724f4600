#include "lib/policies/kvcrush.h"

#include <ATen/ATen.h>
#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <numeric>

#include "base/error.h"

namespace kvmix {

KvCrushPolicy::KvCrushPolicy(int64_t layers, KvCrushOptions o)
    : o_(o), acc_(static_cast<size_t>(layers), GrowableTensor(2)) {
  KVMIX_CHECK(o_.crush_ratio >= 0 && o_.crush_ratio < 1,
              "KVCrush: crush ratio must be in [0, 1), got {}", o_.crush_ratio);
}

std::string KvCrushPolicy::describe() const {
  return fmt::format("KVCrush (H2O base, {:.0f}% representatives)", 100 * o_.crush_ratio);
}

std::vector<int64_t> crush_representatives(const at::Tensor& bits, const at::Tensor& candidate,
                                           int64_t r) {
  // The selection loops on the host: the candidates and distances come back in one copy each.
  std::vector<int64_t> slots;
  const auto cand = candidate.to(at::kCPU).contiguous();
  const bool* c = cand.data_ptr<bool>();
  for (int64_t j = 0; j < cand.size(0); ++j)
    if (c[j]) slots.push_back(j);
  const int64_t m = static_cast<int64_t>(slots.size());
  r = std::min(r, m);
  if (r <= 0) return {};
  auto idx = at::tensor(slots, at::kLong).to(bits.device());
  auto b = bits.index_select(1, idx).to(at::kFloat);                 // [H, m]
  auto anchor = b.mean(1, /*keepdim=*/true).ge(0.5).to(at::kFloat);  // [H, 1]
  auto dist = (b - anchor).abs().sum(0).to(at::kLong).to(at::kCPU).contiguous();  // [m]
  std::vector<int64_t> order(static_cast<size_t>(m));
  std::iota(order.begin(), order.end(), 0);
  const int64_t* d = dist.data_ptr<int64_t>();
  std::stable_sort(order.begin(), order.end(), [d](int64_t a, int64_t c) { return d[a] < d[c]; });
  std::vector<int64_t> out;
  for (int64_t i = 0; i < r; ++i) out.push_back(slots[static_cast<size_t>(order[static_cast<size_t>((2 * i + 1) * m / (2 * r))])]);
  std::sort(out.begin(), out.end());
  return out;
}

Allocation KvCrushPolicy::allocate(const PolicyStep& s, const TierCosts& c) {
  const int64_t B = s.tier.size(0), Hkv = s.tier.size(1), Tk = s.tier.size(2);
  const int64_t Hq = s.probs.size(1), Tq = s.query_valid.size(1);
  auto& acc = acc_.at(static_cast<size_t>(s.layer));
  acc.append(at::zeros({B, Hq, Tq}, s.tier.options().dtype(at::kFloat)));
  acc.view().add_((s.probs * s.query_valid.to(at::kFloat).view({B, 1, Tq, 1})).sum(2));
  const auto score = acc.view();                      // [B, Hq, Tk]
  const auto live = live_slots(s.tier).select(1, 0);  // [B, Tk], shared by the heads
  const auto n_keep = fit_one_tier(s.head_budget, live.sum(-1, true).expand({B, Hkv}), c.full, c);
  const auto n_rep = (n_keep.to(at::kDouble) * o_.crush_ratio).floor().to(at::kLong);
  const auto n_base = n_keep - n_rep;

  // base policy: H2O on the layer's attention
  auto layer_score = score.sum(1, /*keepdim=*/true);  // [B, 1, Tk]
  auto base_prio = heavy_recent_priority(layer_score, live.unsqueeze(1), n_base.narrow(1, 0, 1), 0.5);
  Allocation base{base_prio, n_base.narrow(1, 0, 1), at::zeros({B, 1}, n_base.options())};
  auto full = at::full({B, 1, Tk}, static_cast<uint8_t>(Tier::kFull), s.tier.options());
  auto base_tier = assign_tiers(at::where(live.unsqueeze(1), full, at::zeros_like(full)), base, Tier::kFull);
  auto base_kept = base_tier.eq(static_cast<uint8_t>(Tier::kFull)).squeeze(1);  // [B, Tk]

  // head-behaviour bits and representatives of the evicted, per sequence
  auto mean = (score * live.unsqueeze(1)).sum(-1, true) / live.sum(-1, true).unsqueeze(1).clamp_min(1);
  auto bits = score.ge(mean).logical_and(live.unsqueeze(1));  // [B, Hq, Tk]
  // marked on the host, slot by slot, then moved to the cache's device in one copy
  auto rep = at::zeros({B, Tk}, at::kBool);
  const auto n_rep_host = n_rep.to(at::kCPU);
  for (int64_t b = 0; b < B; ++b) {
    auto cand = live[b].logical_and(base_kept[b].logical_not());
    for (int64_t j : crush_representatives(bits[b], cand, n_rep_host[b][0].item<int64_t>()))
      rep[b][j] = true;
  }
  rep = rep.to(live.device());
  auto slot = at::arange(Tk, live.options().dtype(at::kDouble)).view({1, Tk});
  auto prio = at::where(base_kept, 3 * kProtectedPriority - slot,
                        at::where(rep, 2 * kProtectedPriority - slot, -slot));
  auto kept = (base_kept.sum(-1) + rep.sum(-1)).unsqueeze(1).expand({B, Hkv}).contiguous();
  return {prio.unsqueeze(1).expand({B, Hkv, Tk}).contiguous(), kept, at::zeros_like(kept)};
}

}  // namespace kvmix
