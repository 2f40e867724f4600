#pragma once
// Rotary position embedding (RoFormer, arXiv 2104.09864) in Hugging Face Llama's "rotate half"
// layout: dimension i pairs with i + D/2, not with its neighbour.
#include <ATen/core/Tensor.h>

#include "models/model_config.h"

namespace kvmix {

// inv_freq[i] = theta^(-2i/D) for i < D/2, then rope_scaling applied:
//   linear: inv_freq / factor (equivalently positions / factor);
//   llama3: Llama 3.1's rule — wavelengths shorter than original_max/high_freq_factor kept,
//           longer than original_max/low_freq_factor divided by factor, smooth blend between.
// Returns [D/2] float64 (computed in double, as the reference implementation's numbers are).
at::Tensor rope_inv_freq(const ModelConfig& c);

// cos and sin tables for integer positions [B, T]: each [B, 1, T, D], float32.
std::pair<at::Tensor, at::Tensor> rope_tables(const at::Tensor& inv_freq, const at::Tensor& positions);

// x [B, H, T, D] rotated by the tables (x*cos + rotate_half(x)*sin), in x's dtype.
at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

}  // namespace kvmix
