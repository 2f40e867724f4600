#pragma once
// Fused decode attention over a packed KV cache: the raw kernels (no torch). One query token per
// query head; grouped-query attention (Hq = g * Hkv, query head h reads KV head h / g); keys
// packed per-channel (KIVI keys) plus a full-precision residual window, values packed per-token
// plus a residual window; an optional validity mask; softmax in fp32 scaled by 1/sqrt(D).
//
// Keys never leave their packed form. For a per-channel group of G tokens with scale s[d] and zero
// z[d] (asymmetric; z = 0 for symmetric), k[t][d] = c[t][d]*s[d] + z[d], so
//   q.k_t = sum_d (q[d]*s[d]) * c[t][d] + sum_d q[d]*z[d]
// and qs[d] = q[d]*s[d] and the bias sum_d q[d]*z[d] are computed once per group (KIVI,
// arXiv 2402.02750, sec. 3.3 does the same fusion on the GPU). Values are per-token: with
// p_t the softmax weights, out[d] = sum_t (p_t*s_t) * c[t][d] + sum_t p_t*z_t.
//
// Versions: decode_attention_ref (scalar, dequantizes element by element on the fly),
// decode_attention_cpu (OpenMP over heads and token blocks, 16-lane SIMD, flash-decoding style
// merge of per-block softmax states), decode_attention_cuda (one block per query head).
// Supported: uniform formats (asymmetric or symmetric b >= 2, bits 1-8) for both K and V;
// the launcher refuses others with "not supported by the fused kernel".
#include <cstdint>

#include "kernels/hd.h"
#include "kernels/quant_format.h"
#include "kernels/quant_layout.h"

namespace kvmix {

// One packed operand (keys or values) with its residual window.
struct PackedOperand {
  QuantFormat format;
  PackedLayout layout;           // lead = B * Hkv, tokens = packed tokens
  const uint32_t* codes = nullptr;
  const void* scales = nullptr;  // fp16 bits or fp32, per format.scale_dtype
  const void* zeros = nullptr;   // asymmetric only
  const void* resid = nullptr;   // [B, Hkv, R, D]
  ElemType resid_type = ElemType::kF32;
  int64_t resid_tokens = 0;      // R
};

struct DecodeAttentionArgs {
  int64_t batch = 0, q_heads = 0, kv_heads = 0, head_dim = 0;
  const void* q = nullptr;  // [B, Hq, D]
  ElemType q_type = ElemType::kF32;
  PackedOperand k, v;
  const bool* valid = nullptr;  // [B, T] with T = Tk + Rk, or null (all valid)
  void* out = nullptr;          // [B, Hq, D]
  ElemType out_type = ElemType::kF32;

  KVMIX_HD int64_t tokens() const { return k.layout.tokens + k.resid_tokens; }
};

// A query head whose tokens are all masked out attends to nothing: its output is 0.
void decode_attention_ref(const DecodeAttentionArgs& a);
void decode_attention_cpu(const DecodeAttentionArgs& a);

// CUDA: device pointers, asynchronous on `stream` (a cudaStream_t); `workspace` holds
// decode_attention_workspace_bytes(a) bytes of device memory.
int64_t decode_attention_workspace_bytes(const DecodeAttentionArgs& a);
void decode_attention_cuda(const DecodeAttentionArgs& a, void* workspace, void* stream);

}  // namespace kvmix
