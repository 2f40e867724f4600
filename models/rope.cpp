#include "models/rope.h"

#include <ATen/ATen.h>

#include <cmath>
#include <vector>

namespace kvmix {

at::Tensor rope_inv_freq(const ModelConfig& c) {
  const int64_t half = c.head_dim / 2;
  std::vector<double> f(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i)
    f[static_cast<size_t>(i)] = 1.0 / std::pow(c.rope_theta, 2.0 * i / c.head_dim);
  const RopeScaling& s = c.rope_scaling;
  if (s.type == RopeScalingType::kLinear) {
    for (auto& x : f) x /= s.factor;
  } else if (s.type == RopeScalingType::kLlama3) {
    // transformers' _compute_llama3_parameters
    const double old_len = static_cast<double>(s.original_max_position_embeddings);
    const double low_wavelen = old_len / s.low_freq_factor;
    const double high_wavelen = old_len / s.high_freq_factor;
    for (auto& x : f) {
      const double wavelen = 2.0 * M_PI / x;
      if (wavelen < high_wavelen) continue;
      if (wavelen > low_wavelen) {
        x /= s.factor;
      } else {
        const double smooth =
            (old_len / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
        x = (1.0 - smooth) * x / s.factor + smooth * x;
      }
    }
  }
  return at::tensor(f, at::kDouble);
}

std::pair<at::Tensor, at::Tensor> rope_tables(const at::Tensor& inv_freq,
                                              const at::Tensor& positions) {
  // angles [B, T, D/2] = positions * inv_freq, then duplicated to [B, T, D]
  auto ang = positions.to(at::kFloat).unsqueeze(-1) *
             inv_freq.to(positions.device(), at::kFloat).view({1, 1, -1});
  auto emb = at::cat({ang, ang}, -1).unsqueeze(1);  // [B, 1, T, D]
  return {emb.cos(), emb.sin()};
}

at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  auto xf = x.to(at::kFloat);
  auto x1 = xf.narrow(-1, 0, half);
  auto x2 = xf.narrow(-1, half, half);
  auto rotated = at::cat({-x2, x1}, -1);
  return (xf * cos + rotated * sin).to(x.scalar_type());
}

}  // namespace kvmix
