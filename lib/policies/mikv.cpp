#include "lib/policies/mikv.h"

#include <ATen/ATen.h>
#include <spdlog/fmt/fmt.h>

#include "kernels/ops.h"
#include "base/error.h"

namespace kvmix {

at::Tensor outlier_balancer(const at::Tensor& q, const at::Tensor& k_new, const at::Tensor& valid) {
  const int64_t B = q.size(0), Hq = q.size(1), Tq = q.size(2), D = q.size(3);
  const int64_t Hkv = k_new.size(1);
  auto m = valid.to(at::kFloat).view({B, 1, 1, Tq, 1});
  auto qmax = (q.to(at::kFloat).abs().view({B, Hkv, Hq / Hkv, Tq, D}) * m).amax({2, 3});
  auto kmax = (k_new.to(at::kFloat).abs() * m.view({B, 1, Tq, 1})).amax(2);  // [B, Hkv, D]
  auto ok = qmax.gt(0).logical_and(kmax.gt(0));
  auto b = at::where(ok, (qmax / kmax.clamp_min(1e-30)).sqrt(), at::ones_like(qmax));
  return b.to(at::kHalf).to(at::kFloat).unsqueeze(2);
}

MikvPolicy::MikvPolicy(int64_t layers, MikvOptions o)
    : o_(o), acc_(layers), balance_(static_cast<size_t>(layers)) {
  KVMIX_CHECK(o_.low_bits >= 2 && o_.low_bits <= 4, "MiKV: low bits must be 2, 3 or 4, got {}",
              o_.low_bits);
  KVMIX_CHECK(o_.high_bits == 16 || o_.high_bits == 8 || o_.high_bits == 4,
              "MiKV: high bits must be 16, 8 or 4, got {}", o_.high_bits);
  KVMIX_CHECK(o_.high_bits > o_.low_bits, "MiKV: high bits {} must exceed low bits {}",
              o_.high_bits, o_.low_bits);
}

std::string MikvPolicy::describe() const {
  return fmt::format("MiKV (high {}, low {} bits{})",
                     o_.high_bits == 16 ? std::string("fp16") : std::to_string(o_.high_bits),
                     o_.low_bits, o_.balancer ? ", balancer" : "");
}

TierFormats MikvPolicy::formats() const {
  TierFormats f;
  f.k_low = f.v_low = uniform_format(o_.low_bits, QuantAxis::kPerToken, 0);
  if (o_.high_bits != 16) f.k_high = f.v_high = uniform_format(o_.high_bits, QuantAxis::kPerToken, 0);
  return f;
}

double MikvPolicy::per_head_bytes(const KvShape& s) const {
  return o_.balancer ? 2.0 * static_cast<double>(s.head_dim) : 0.0;
}

Allocation MikvPolicy::allocate(const PolicyStep& s, const TierCosts& c) {
  auto& b = balance_.at(static_cast<size_t>(s.layer));
  if (o_.balancer && !b.defined()) {
    const int64_t Tq = s.query_valid.size(1);
    b = outlier_balancer(s.q, s.keys.narrow(2, s.tokens_before, Tq), s.query_valid);
  }
  const auto& score = acc_.update(s);
  const auto live = live_slots(s.tier);
  const auto n = live.sum(-1);
  auto [n_high, n_low] = fit_two_tiers(s.head_budget, n, c);
  // H2O's selection at the size of the set being chosen: the high tier while every token is kept,
  // the kept tokens once some are dropped (n_high is then 0); the rest by accumulated attention
  const auto chosen = at::where(n_high.add(n_low).lt(n), n_high.add(n_low), n_high);
  return {heavy_recent_priority(score, live, chosen, o_.recent_ratio), n_high, n_low};
}

at::Tensor MikvPolicy::quantize(int64_t layer, Tier tier, bool is_key, const at::Tensor& x,
                                const at::Tensor& moved) const {
  const auto& b = balance_.at(static_cast<size_t>(layer));
  if (!is_key || !o_.balancer || !b.defined())
    return TokenPolicy::quantize(layer, tier, is_key, x, moved);
  auto scaled = (x.to(at::kFloat) * b).contiguous();
  return (TokenPolicy::quantize(layer, tier, is_key, scaled, moved) / b).to(x.scalar_type());
}

}  // namespace kvmix
