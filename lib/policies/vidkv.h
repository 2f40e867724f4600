#pragma once
// VidKV (Tao et al., "Plug-and-Play 1.x-Bit KV Cache Quantization for Video Large Language
// Models", arXiv 2503.16257, §3.2-3.3): keys at 1.x bits with mixed precision over channels,
// values at 1.58 bits with the salient tokens at 2 bits. Nothing is evicted while the budget affords
// every token at 1.x bits.
//   key channels   per sequence, layer and KV head, from the prompt (the layer's first step): the
//                  ceil(wide_ratio * D) channels with the widest range max - min over the prompt's
//                  keys are "anomalous" and get 2 bits; the rest get 1 bit after an FFT
//   2-bit keys     the anomalous channels of one token, asymmetric: s = (max - min)/3, z = min,
//                  x^ = q s + z, fp16 s and z
//   1-bit keys     the other n channels of one token: c = rfft(x) along those channels, its n
//                  independent real numbers (real parts, and the imaginary parts that are not zero by
//                  symmetry) quantized as x^ = +-s with s = mean|c| (the L2-optimal sign scale),
//                  then x^ = irfft(c^); one fp16 s
//   values         1.58-bit (ternary) PER CHANNEL, groups of `value_group` tokens along the token
//                  axis (the paper's finding: per-channel, not per-token, at 1.58 bits): for each
//                  channel of a group, s = mean|x| over the group's tokens, t = sign(x) if
//                  |x| > s/2 else 0, x^ = s t, one fp16 s per channel and group. As in KIVI (which
//                  VidKV builds on) a group is quantized once it is complete: the newest
//                  (tokens seen mod value_group) tokens stay in fp16, charged at fp16 cost. Tokens
//                  that reach the low tier in fewer than value_group at once (a salient token that
//                  stops being salient, the remainder after the salient ones are taken out of a
//                  group) are quantized ternary per token instead, at the same bytes per token, so
//                  a short group never buys precision the budget does not pay for.
//   salient        the ceil(salient_ratio * live) tokens with the largest accumulated attention
//                  (H2O's score) keep 2-bit values (per token, asymmetric). The paper picks salient
//                  tokens by SEMANTIC saliency from the vision encoder's tokens; a text-only model
//                  has no such signal, so accumulated attention stands in as a proxy: this is not
//                  the paper's selection, and results/ says so.
// The key formulas work per token (groups along channels) so that every token is stored when it
// arrives; the paper's 2-bit keys group along tokens (KIVI style).
// Under a budget below the 1.x-bit cost, tokens are evicted as H2O does (lib/policies/h2o.h): the
// fp16 window first, then the newest recent_ratio of the kept quantized tokens, then the largest
// accumulated attention; the newest tokens are never the ones evicted.
// Bytes per token and head: the key codes and scales, the value codes and scales of its tier (a
// complete group's share of the per-channel scales), a 32-bit index (salient tokens are a per-head
// subset) and the fp32 accumulated attention (state later steps add to): 8 bytes; per head and
// layer, the anomalous-channel mask (ceil(D / 8) bytes).
// Defaults: wide_ratio 0.2, salient_ratio 0.1, value_group 32 (KIVI's group), recent_ratio 0.5.
#include <vector>

#include "lib/policies/h2o.h"
#include "lib/policies/token_policy.h"

namespace kvmix {

struct VidKvOptions {
  double wide_ratio = 0.2;
  double salient_ratio = 0.1;
  int64_t value_group = 32;  // tokens per per-channel value group
  double recent_ratio = 0.5;  // of the kept quantized tokens, once tokens are evicted
};

class VidKvPolicy : public TokenPolicy {
 public:
  VidKvPolicy(int64_t layers, VidKvOptions o = {});
  std::string describe() const override;
  TierFormats formats() const override;
  double per_token_bytes(const KvShape&) const override { return 8.0; }
  double per_head_bytes(const KvShape& s) const override {
    return static_cast<double>((s.head_dim + 7) / 8);
  }
  double tier_bytes(const KvShape& s, Tier tier) const override;
  Allocation allocate(const PolicyStep& step, const TierCosts& costs) override;
  at::Tensor quantize(int64_t layer, Tier tier, bool is_key, const at::Tensor& x,
                      const at::Tensor& moved) const override;
  bool keys_tier_independent() const override { return true; }

  // The layer's anomalous channels [B, Hkv, D] bool (undefined before its first step).
  const at::Tensor& wide_channels(int64_t layer) const { return wide_.at(static_cast<size_t>(layer)); }
  int64_t wide_count(int64_t head_dim) const;

 private:
  VidKvOptions o_;
  AccumulatedAttention acc_;
  std::vector<at::Tensor> wide_;
  std::vector<at::Tensor> pending_;  // per layer [B] int64: tokens not yet in a complete group
};

// VidKV's 1.58-bit values: x [B, H, T, D], moved [B, H, T] bool (the tokens going to the low tier).
// The moved tokens of each (b, h), in slot order, form groups of `group`; each complete group is
// ternary per channel (one fp16 scale per channel), the remainder ternary per token. Returns x
// with the moved tokens quantized (the others as they are).
at::Tensor vidkv_quantize_values(const at::Tensor& x, const at::Tensor& moved, int64_t group);

// VidKV's key quantizer: x [B, H, T, D], wide [B, H, D] bool with the same count w in every head.
at::Tensor vidkv_quantize_keys(const at::Tensor& x, const at::Tensor& wide);

// 1-bit after an FFT along the last axis: x [..., n] -> irfft(+-s on the n independent real
// numbers of rfft(x)), s = mean of their magnitudes rounded to fp16.
at::Tensor fft_sign_quantize(const at::Tensor& x);

}  // namespace kvmix
