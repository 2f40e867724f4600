#pragma once
// The kvmix torch ops: the only way the rest of kvmix reaches the kernels. Each op is declared
// once as a TORCH_LIBRARY schema (kernels/ops_schema.cpp) and implemented per device
// (TORCH_LIBRARY_IMPL CPU in kernels/ops_cpu.cpp, CUDA in kernels/ops_torch_cuda.cpp), so callers
// never branch on the device. These C++ wrappers call through the dispatcher.
//
// Shapes: x is [lead..., T, D] (lead = batch, heads); see kernels/quant_format.h for the packed
// layout of each format.
//
// Errors: a bad argument throws kvmix::Error naming the op, the tensor and what was expected
// (dtype not fp32/bf16/fp16, a non-contiguous tensor, unsupported bits, a group that does not
// divide the channel axis, shapes that do not match the packed layout, a format the fused kernel
// does not take).
// Non-finite policy: kvmix refuses NaN and inf. quantize_pack and fake_quant throw when the input
// holds one (found in the same pass as the group statistics, at no extra read), and when a group's
// scale or zero overflows its storage dtype (|x| beyond fp16's 65504: use fp32 scales);
// unpack_dequantize checks the scales and zeros it is given; decode_attention checks q and the
// residual windows (the packed operands come from quantize_pack, which already refused them).
#include <ATen/core/Tensor.h>

#include "kernels/quant_format.h"

namespace kvmix {

// A packed tensor: codes plus its scales and zeros (zeros undefined when the format has none).
struct PackedTensor {
  at::Tensor codes;   // int32 words (bit pattern of uint32), layout per format
  at::Tensor scales;  // fp16 or fp32
  at::Tensor zeros;   // fp16 or fp32, or undefined
  int64_t tokens = 0;    // T
  int64_t channels = 0;  // D
};

// Quantizes and packs x (fp32, bf16 or fp16, contiguous, finite). The format's residual is
// ignored here: every token is quantized (the cache decides what stays in the residual).
PackedTensor quantize_pack(const at::Tensor& x, const QuantFormat& f);

// Inverse of quantize_pack: returns [lead..., T, D] in `dtype`.
at::Tensor unpack_dequantize(const PackedTensor& p, const QuantFormat& f, at::ScalarType dtype);

// quantize_pack followed by unpack_dequantize, fused: returns x^ in x's dtype (fake-quant).
at::Tensor fake_quant(const at::Tensor& x, const QuantFormat& f);

// Fused decode attention over a packed KV cache, one new query per query head.
//   q          [B, Hq, D]                     fp32/bf16/fp16; Hq a multiple of Hkv (grouped-query)
//   k_packed   per-channel uniform format, tokens = Tk (a multiple of the key group)
//   k_resid    [B, Hkv, Rk, D]               the newest keys, in the model dtype
//   v_packed   per-token uniform format, tokens = Tv
//   v_resid    [B, Hkv, Rv, D]
//   valid      [B, Tk + Rk] bool or undefined (false: a padded or evicted token, never attended)
// Token t of the sequence is key t (packed if t < Tk, else k_resid[t - Tk]) and value t (packed if
// t < Tv, else v_resid[t - Tv]); Tk + Rk must equal Tv + Rv. Softmax in fp32, scaled by 1/sqrt(D).
// Returns [B, Hq, D] in q's dtype, without materializing dequantized K or V.
at::Tensor decode_attention(const at::Tensor& q, const PackedTensor& k_packed, const QuantFormat& kf,
                            const at::Tensor& k_resid, const PackedTensor& v_packed,
                            const QuantFormat& vf, const at::Tensor& v_resid,
                            const at::Tensor& valid);

// True bytes of a [lead..., T, D] tensor stored in format f with `model_dtype_bytes` per element
// for the residual window (kNone: everything in the model dtype): codes + scales + zeros + residual.
int64_t true_bytes(int64_t lead, int64_t tokens, int64_t channels, const QuantFormat& f,
                   int model_dtype_bytes);

}  // namespace kvmix
