#pragma once
// Error metrics for KV quantization, as reusable accumulators (in the spirit of gemma.cpp's
// compression/distortion.h). No single number is enough; each catches something the others miss:
//   relative L2   ||x^ - x|| / ||x||: overall distortion, scale-free across layers and heads
//   RMSE          absolute distortion in the tensor's units
//   NMSE / SNR    the same as relative L2 squared, in dB for reading off quantizer quality
//                 (a b-bit uniform quantizer gains about 6 dB per bit)
//   cosine        direction only: what a dot product with a query mostly sees
//   max-abs       the worst element: outlier channels that averages hide (keys have them, KIVI)
//   KL            between probability rows (attention, next-token): what the model's choices feel
//   total variation  0.5 * sum |p^ - p| per row: attention mass moved to other tokens, bounded in [0, 1]
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace kvmix {

// Accumulates a reconstruction x^ against its reference x over many tensors.
class DistortionStats {
 public:
  void add(const at::Tensor& reference, const at::Tensor& approx);
  double relative_l2() const;
  double rmse() const;
  double nmse() const;
  double snr_db() const;
  double cosine() const;
  double max_abs() const { return max_abs_; }
  int64_t count() const { return n_; }

 private:
  double sum_sq_ref_ = 0, sum_sq_err_ = 0, dot_ = 0, sum_sq_approx_ = 0, max_abs_ = 0;
  int64_t n_ = 0;
};

// Mean and spread of one value per sample (per prompt): the profile reports both.
class SampleStats {
 public:
  void add(double v) { v_.push_back(v); }
  double mean() const;
  double stddev() const;
  double quantile(double q) const;  // q in [0, 1], nearest rank
  int64_t count() const { return static_cast<int64_t>(v_.size()); }
  const std::vector<double>& values() const { return v_; }  // in the order added (checkpoints)

 private:
  std::vector<double> v_;
};

// Row-wise divergences of probability tensors [..., n] (the last axis sums to 1).
at::Tensor kl_rows(const at::Tensor& p, const at::Tensor& q);               // KL(p || q) per row
at::Tensor total_variation_rows(const at::Tensor& p, const at::Tensor& q);  // 0.5 sum |p - q|

}  // namespace kvmix
