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

VidKvPolicy::VidKvPolicy(int64_t layers, VidKvOptions o)
    : o_(o), acc_(layers), wide_(static_cast<size_t>(layers)) {
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
  const QuantFormat& vf = tier == Tier::kHigh ? value_salient_format() : value_ternary_format();
  return static_cast<double>(key + true_bytes(1, 1, D, vf, dt));
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
  const auto live = live_slots(s.tier);
  const auto n = live.sum(-1);
  auto salient = (n.to(at::kDouble) * o_.salient_ratio).ceil().to(at::kLong);
  auto [n_high, n_low] = fit_two_tiers(s.head_budget, n, c, salient);
  return {score.to(at::kDouble), n_high, n_low};
}

at::Tensor VidKvPolicy::quantize(int64_t layer, Tier tier, bool is_key, const at::Tensor& x) const {
  if (!is_key) {
    const QuantFormat f = tier == Tier::kHigh ? value_salient_format() : value_ternary_format();
    return fake_quant(x.contiguous(), f);
  }
  const auto& wide = wide_.at(static_cast<size_t>(layer));
  KVMIX_ASSERT(wide.defined(), "VidKV: keys quantized before the layer's channels were chosen");
  return vidkv_quantize_keys(x, wide);
}

}  // namespace kvmix
