#include "lib/policies/h2o.h"

#include <ATen/ATen.h>
#include <spdlog/fmt/fmt.h>

#include "base/error.h"

namespace kvmix {

const at::Tensor& AccumulatedAttention::update(const PolicyStep& s) {
  auto& acc = acc_.at(static_cast<size_t>(s.layer));
  const int64_t Tq = s.query_valid.size(1);
  acc.append(at::zeros({s.tier.size(0), s.tier.size(1), Tq}, s.tier.options().dtype(at::kFloat)));
  auto view = acc.view();
  view.add_(head_attention(s));
  last_ = view;
  return last_;
}

at::Tensor heavy_recent_priority(const at::Tensor& score, const at::Tensor& live,
                                 const at::Tensor& n_keep, double recent_ratio) {
  const int64_t Tk = live.size(2);
  auto n_recent = (n_keep.to(at::kDouble) * recent_ratio).floor().to(at::kLong).unsqueeze(-1);
  auto recent = recency_rank(live).lt(n_recent);
  auto slot = at::arange(Tk, live.options().dtype(at::kLong)).view({1, 1, Tk}).expand_as(live);
  return at::where(recent, protected_priority(slot), score.to(at::kDouble));
}

H2oPolicy::H2oPolicy(int64_t layers, H2oOptions o) : o_(o), acc_(layers) {
  KVMIX_CHECK(o_.recent_ratio >= 0 && o_.recent_ratio <= 1,
              "H2O: recent ratio must be in [0, 1], got {}", o_.recent_ratio);
}

std::string H2oPolicy::describe() const {
  return fmt::format("H2O (recent {:.0f}%)", 100 * o_.recent_ratio);
}

Allocation H2oPolicy::allocate(const PolicyStep& s, const TierCosts& c) {
  const auto& score = acc_.update(s);
  const auto live = live_slots(s.tier);
  const auto n_keep = fit_one_tier(s.head_budget, live.sum(-1), c.full, c);
  return {heavy_recent_priority(score, live, n_keep, o_.recent_ratio), n_keep,
          at::zeros_like(n_keep)};
}

}  // namespace kvmix
