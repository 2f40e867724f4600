#include "lib/policies/vidkv.h"

#include <ATen/ATen.h>
#include <spdlog/fmt/fmt.h>

#include <cmath>
#include <limits>

#include "kernels/ops.h"
#include "base/error.h"

namespace kvmix {
namespace {

QuantFormat key_wide_format() { return uniform_format(2, QuantAxis::kPerToken, 0); }
QuantFormat key_sign_format() { return uniform_format(1, QuantAxis::kPerToken, 0, 0, /*symmetric=*/true); }
QuantFormat value_salient_format() { return uniform_format(2, QuantAxis::kPerToken, 0); }
QuantFormat value_ternary_format() { return ternary_format(QuantAxis::kPerToken, 0); }
QuantFormat value_channel_format(int64_t group) {
  return ternary_format(QuantAxis::kPerChannel, static_cast<int>(group));
}

}  // namespace

at::Tensor fft_sign_quantize(const at::Tensor& x) {
  const int64_t n = x.size(-1);
  if (n == 0) return x;
  const int64_t m = n / 2 + 1, k = (n - 1) / 2;  // complex bins; imaginary parts not zero by symmetry
  auto c = at::fft_rfft(x.to(at::kFloat), n, -1);
  auto v = at::cat({at::real(c), at::imag(c).narrow(-1, 1, k)}, -1).contiguous();  // [..., n]
  auto vq = fake_quant(v, key_sign_format());
  auto imag = at::zeros_like(at::real(c));
  imag.narrow(-1, 1, k).copy_(vq.narrow(-1, m, k));
  auto cq = at::complex(vq.narrow(-1, 0, m).contiguous(), imag);
  return at::fft_irfft(cq, n, -1).to(x.scalar_type());
}

at::Tensor vidkv_quantize_keys(const at::Tensor& x, const at::Tensor& wide) {
  const int64_t T = x.size(2), D = x.size(3);
  const int64_t w = wide.numel() ? wide.sum(-1).max().item<int64_t>() : 0;
  // channel order per head: the anomalous ones first (a stable sort keeps channel order)
  auto order = std::get<1>(
      at::sort(wide.logical_not().to(at::kByte), c10::optional<bool>(true), -1, /*descending=*/false));
  auto idx = order.unsqueeze(2).expand({-1, -1, T, -1});
  auto xs = x.to(at::kFloat).gather(-1, idx);
  std::vector<at::Tensor> parts;
  if (w > 0) parts.push_back(fake_quant(xs.narrow(-1, 0, w).contiguous(), key_wide_format()));
  if (w < D) parts.push_back(fft_sign_quantize(xs.narrow(-1, w, D - w).contiguous()));
  return at::empty_like(xs).scatter_(-1, idx, at::cat(parts, -1)).to(x.scalar_type());
}

at::Tensor vidkv_quantize_values(const at::Tensor& x, const at::Tensor& moved, int64_t group) {
  KVMIX_ASSERT(group >= 1 && moved.dim() == 3 && x.dim() == 4);
  const int64_t B = x.size(0), H = x.size(1), T = x.size(2), D = x.size(3);
  auto xf = x.to(at::kFloat);
  auto m = moved.to(at::kLong);
  // each moved token's group: its rank among the (b, h)'s moved tokens over `group`; a group is
  // complete when `group` moved tokens share it
  auto rank = m.cumsum(-1) - 1;
  const int64_t n_groups = T / group + 1;
  auto gid = at::where(moved, rank.div(group, "floor"), at::full_like(rank, n_groups));  // [B,H,T]
  auto total = m.sum(-1, /*keepdim=*/true);                                              // [B,H,1]
  auto complete = moved.logical_and(gid.lt(total.div(group, "floor")));
  auto idx = gid.unsqueeze(-1).expand({B, H, T, D});
  auto sums = at::zeros({B, H, n_groups + 1, D}, xf.options())
                  .scatter_add_(2, idx, xf.abs() * complete.unsqueeze(-1).to(at::kFloat));
  // mean-based scales round to nearest fp16 before the codes (kernels/quant_format.h)
  auto scale = (sums / static_cast<double>(group)).to(at::kHalf).to(at::kFloat);
  auto s = scale.gather(2, idx);                                                          // [B,H,T,D]
  auto channel = s * xf.sign() * xf.abs().gt(s * 0.5).to(at::kFloat);
  auto token = fake_quant(xf.contiguous(), value_ternary_format());
  auto out = at::where(complete.unsqueeze(-1), channel, token);
  return at::where(moved.unsqueeze(-1), out, xf).to(x.scalar_type());
}

VidKvPolicy::VidKvPolicy(int64_t layers, VidKvOptions o)
    : o_(o), acc_(layers), wide_(static_cast<size_t>(layers)), pending_(static_cast<size_t>(layers)) {
  KVMIX_CHECK(o_.value_group >= 1, "VidKV: value group must be >= 1 token, got {}", o_.value_group);
  KVMIX_CHECK(o_.recent_ratio >= 0 && o_.recent_ratio <= 1,
              "VidKV: recent ratio must be in [0, 1], got {}", o_.recent_ratio);
  KVMIX_CHECK(o_.wide_ratio >= 0 && o_.wide_ratio <= 1, "VidKV: wide ratio must be in [0, 1], got {}",
              o_.wide_ratio);
  KVMIX_CHECK(o_.salient_ratio >= 0 && o_.salient_ratio <= 1,
              "VidKV: salient ratio must be in [0, 1], got {}", o_.salient_ratio);
}

std::string VidKvPolicy::describe() const {
  return fmt::format("VidKV ({:.0f}% 2-bit key channels, {:.0f}% 2-bit value tokens)",
                     100 * o_.wide_ratio, 100 * o_.salient_ratio);
}

int64_t VidKvPolicy::wide_count(int64_t head_dim) const {
  return static_cast<int64_t>(std::ceil(o_.wide_ratio * static_cast<double>(head_dim) - 1e-9));
}

TierFormats VidKvPolicy::formats() const {
  // for the cache: both tiers are quantized (the bytes come from tier_bytes)
  TierFormats f;
  f.k_high = f.k_low = key_sign_format();
  f.v_high = value_salient_format();
  f.v_low = value_ternary_format();
  return f;
}

double VidKvPolicy::tier_bytes(const KvShape& s, Tier tier) const {
  const int64_t D = s.head_dim, w = wide_count(D), dt = s.model_dtype_bytes;
  const int64_t key = (w > 0 ? true_bytes(1, 1, w, key_wide_format(), dt) : 0) +
                      (w < D ? true_bytes(1, 1, D - w, key_sign_format(), dt) : 0);
  // low: a complete group's bytes shared by its tokens (per-token ternary of a remainder costs the
  // same: ceil(D / 20) words and one fp16 scale per token, when D = value_group)
  const double value =
      tier == Tier::kHigh
          ? static_cast<double>(true_bytes(1, 1, D, value_salient_format(), dt))
          : static_cast<double>(true_bytes(1, o_.value_group, D, value_channel_format(o_.value_group), dt)) /
                static_cast<double>(o_.value_group);
  return static_cast<double>(key) + value;
}

Allocation VidKvPolicy::allocate(const PolicyStep& s, const TierCosts& c) {
  auto& wide = wide_.at(static_cast<size_t>(s.layer));
  const int64_t D = s.keys.size(3), Tq = s.query_valid.size(1);
  if (!wide.defined()) {
    auto k = s.keys.narrow(2, s.tokens_before, Tq).to(at::kFloat);
    auto valid = s.query_valid.view({s.query_valid.size(0), 1, Tq, 1});
    const float inf = std::numeric_limits<float>::infinity();
    auto hi = at::where(valid, k, at::full({}, -inf, k.options())).amax(2);
    auto lo = at::where(valid, k, at::full({}, inf, k.options())).amin(2);
    auto range = at::where(hi.ge(lo), hi - lo, at::zeros_like(hi));  // [B, Hkv, D]
    auto top = std::get<1>(range.topk(wide_count(D), -1));
    wide = at::zeros(range.sizes(), range.options().dtype(at::kBool)).scatter_(-1, top, true);
  }
  const auto& score = acc_.update(s);
  const int64_t B = s.tier.size(0), Tk = s.tier.size(2);
  // the fp16 window: tokens seen since the last complete value group
  auto& pending = pending_.at(static_cast<size_t>(s.layer));
  if (!pending.defined()) pending = at::zeros({B}, s.query_valid.options().dtype(at::kLong));
  pending = (pending + s.query_valid.to(at::kLong).sum(1)).remainder(o_.value_group);
  const auto live = live_slots(s.tier);
  const auto n = live.sum(-1);                                            // [B, Hkv]
  const auto afford_full = fit_one_tier(s.head_budget, n, c.full, c);
  const auto n_full = at::minimum(pending.unsqueeze(1).expand_as(n), afford_full);
  const auto rest_budget = s.head_budget.unsqueeze(1) - n_full.to(at::kDouble) * (c.full + c.per_token);
  const auto n_rest = n - n_full;
  auto salient = (n_rest.to(at::kDouble) * o_.salient_ratio).ceil().to(at::kLong);
  auto [n_high, n_low] = fit_two_tiers(rest_budget, n_rest, c, salient);
  // under eviction, H2O's recent window over the kept quantized tokens (none while all are kept)
  const auto evicting = (n_full + n_high + n_low).lt(n);
  const auto n_recent = at::where(evicting, (n_low.to(at::kDouble) * o_.recent_ratio).floor().to(at::kLong),
                                  at::zeros_like(n_low));
  const auto recency = recency_rank(live);
  auto slot = at::arange(Tk, live.options().dtype(at::kLong)).view({1, 1, Tk}).expand_as(live);
  auto prio = at::where(recency.lt(n_full.unsqueeze(-1)), protected_priority(slot) + kProtectedPriority,
                        at::where(recency.lt((n_full + n_recent).unsqueeze(-1)), protected_priority(slot),
                                  score.to(at::kDouble)));
  return {prio, n_high, n_low, n_full};
}

at::Tensor VidKvPolicy::quantize(int64_t layer, Tier tier, bool is_key, const at::Tensor& x,
                                 const at::Tensor& moved) const {
  if (!is_key) {
    if (tier == Tier::kHigh) return fake_quant(x.contiguous(), value_salient_format());
    return vidkv_quantize_values(x, moved, o_.value_group);
  }
  const auto& wide = wide_.at(static_cast<size_t>(layer));
  KVMIX_ASSERT(wide.defined(), "VidKV: keys quantized before the layer's channels were chosen");
  return vidkv_quantize_keys(x, wide);
}

}  // namespace kvmix
