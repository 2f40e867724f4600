#include "lib/metrics.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

namespace kvmix {

void DistortionStats::add(const at::Tensor& reference, const at::Tensor& approx) {
  auto r = reference.to(at::kDouble), a = approx.to(at::kDouble);
  auto e = a - r;
  sum_sq_ref_ += r.pow(2).sum().item<double>();
  sum_sq_err_ += e.pow(2).sum().item<double>();
  sum_sq_approx_ += a.pow(2).sum().item<double>();
  dot_ += (r * a).sum().item<double>();
  if (e.numel() > 0) max_abs_ = std::max(max_abs_, e.abs().max().item<double>());
  n_ += reference.numel();
}

double DistortionStats::relative_l2() const {
  return sum_sq_ref_ > 0 ? std::sqrt(sum_sq_err_ / sum_sq_ref_) : (sum_sq_err_ > 0 ? INFINITY : 0.0);
}
double DistortionStats::rmse() const { return n_ ? std::sqrt(sum_sq_err_ / static_cast<double>(n_)) : 0.0; }
double DistortionStats::nmse() const { return sum_sq_ref_ > 0 ? sum_sq_err_ / sum_sq_ref_ : 0.0; }
double DistortionStats::snr_db() const {
  return sum_sq_err_ > 0 ? 10.0 * std::log10(sum_sq_ref_ / sum_sq_err_) : INFINITY;
}
double DistortionStats::cosine() const {
  const double d = std::sqrt(sum_sq_ref_ * sum_sq_approx_);
  return d > 0 ? dot_ / d : 1.0;
}

double SampleStats::mean() const {
  if (v_.empty()) return 0.0;
  double s = 0;
  for (double x : v_) s += x;
  return s / static_cast<double>(v_.size());
}

double SampleStats::stddev() const {
  if (v_.size() < 2) return 0.0;
  const double m = mean();
  double s = 0;
  for (double x : v_) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v_.size() - 1));
}

double SampleStats::quantile(double q) const {
  if (v_.empty()) return 0.0;
  auto s = v_;
  std::sort(s.begin(), s.end());
  const size_t i = static_cast<size_t>(std::clamp(q, 0.0, 1.0) * static_cast<double>(s.size() - 1) + 0.5);
  return s[std::min(i, s.size() - 1)];
}

at::Tensor kl_rows(const at::Tensor& p, const at::Tensor& q) {
  // p log(p/q) with 0 log 0 = 0; q floored so a zero where p > 0 gives a large finite value
  auto pd = p.to(at::kDouble), qd = q.to(at::kDouble).clamp_min(1e-30);
  auto terms = at::where(pd > 0, pd * (pd.clamp_min(1e-300).log() - qd.log()), at::zeros_like(pd));
  return terms.sum(-1).clamp_min(0.0);
}

at::Tensor total_variation_rows(const at::Tensor& p, const at::Tensor& q) {
  return 0.5 * (p.to(at::kDouble) - q.to(at::kDouble)).abs().sum(-1);
}

}  // namespace kvmix
