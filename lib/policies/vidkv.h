#pragma once
// VidKV (Tao et al., "Plug-and-Play 1.x-Bit KV Cache Quantization for Video Large Language
// Models", arXiv 2503.16257, §3.2-3.3): keys at 1.x bits with mixed precision over channels,
// values at 1.58 bits with the salient tokens at 2 bits. Nothing is evicted.
//   key channels   per sequence, layer and KV head, from the prompt (the layer's first step): the
//                  ceil(wide_ratio * D) channels with the widest range max - min over the prompt's
//                  keys are "anomalous" and get 2 bits; the rest get 1 bit after an FFT
//   2-bit keys     the anomalous channels of one token, asymmetric: s = (max - min)/3, z = min,
//                  x^ = q s + z, fp16 s and z
//   1-bit keys     the other n channels of one token: c = rfft(x) along those channels, its n
//                  independent real numbers (real parts, and the imaginary parts that are not zero by
//                  symmetry) quantized as x^ = +-s with s = mean|c| (the L2-optimal sign scale),
//                  then x^ = irfft(c^); one fp16 s
//   values         ternary per token (1.58 bits, G = D): s = mean|x|, t = sign(x) if |x| > s/2
//                  else 0, x^ = s t, one fp16 s; the salient tokens (the ceil(salient_ratio * live)
//                  with the largest accumulated attention, H2O's score) at 2 bits asymmetric instead
// The key formulas work per token (groups along channels) so that every token is stored when it
// arrives; the paper's 2-bit keys group along tokens (KIVI style), which needs a full-precision
// window that this cache does not have.
// Bytes per token and head: the key codes and scales, the value codes and scales of its tier, a
// 32-bit index (salient tokens are a per-head subset); per head and layer, the anomalous-channel
// mask (ceil(D / 8) bytes). Under a budget below the 1.x-bit cost the least-attended tokens go.
// Defaults: wide_ratio 0.2, salient_ratio 0.1.
#include <vector>

#include "lib/policies/h2o.h"
#include "lib/policies/token_policy.h"

namespace kvmix {

struct VidKvOptions {
  double wide_ratio = 0.2;
  double salient_ratio = 0.1;
};

class VidKvPolicy : public TokenPolicy {
 public:
  VidKvPolicy(int64_t layers, VidKvOptions o = {});
  std::string describe() const override;
  TierFormats formats() const override;
  double per_head_bytes(const KvShape& s) const override {
    return static_cast<double>((s.head_dim + 7) / 8);
  }
  double tier_bytes(const KvShape& s, Tier tier) const override;
  Allocation allocate(const PolicyStep& step, const TierCosts& costs) override;
  at::Tensor quantize(int64_t layer, Tier tier, bool is_key, const at::Tensor& x) const override;
  bool keys_tier_independent() const override { return true; }

  // The layer's anomalous channels [B, Hkv, D] bool (undefined before its first step).
  const at::Tensor& wide_channels(int64_t layer) const { return wide_.at(static_cast<size_t>(layer)); }
  int64_t wide_count(int64_t head_dim) const;

 private:
  VidKvOptions o_;
  AccumulatedAttention acc_;
  std::vector<at::Tensor> wide_;
};

// VidKV's key quantizer: x [B, H, T, D], wide [B, H, D] bool with the same count w in every head.
at::Tensor vidkv_quantize_keys(const at::Tensor& x, const at::Tensor& wide);

// 1-bit after an FFT along the last axis: x [..., n] -> irfft(+-s on the n independent real
// numbers of rfft(x)), s = mean of their magnitudes rounded to fp16.
at::Tensor fft_sign_quantize(const at::Tensor& x);

}  // namespace kvmix
