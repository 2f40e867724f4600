#pragma once
// What the op implementations of every device share: the QuantFormat <-> int[] encoding the op
// schemas carry, and the checks a launcher runs before it hands raw pointers to a kernel (dtype,
// contiguity, device, shapes against the packed layout). Every failed check throws kvmix::Error
// naming the op, the tensor, the expected and the actual value.
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "kernels/decode_attention.h"
#include "kernels/quant_format.h"
#include "kernels/quant_layout.h"

namespace kvmix::ops {

// The schemas pass a format as int[]: {kind, bits, axis, group, symmetric, scale_dtype,
// residual, fp8_scope}.
std::vector<int64_t> encode_format(const QuantFormat& f);
QuantFormat decode_format(at::IntArrayRef v, const char* op);

inline c10::optional<at::Tensor> optional_of(const at::Tensor& t) {
  return t.defined() ? c10::optional<at::Tensor>(t) : c10::nullopt;
}

// fp32 -> kF32, bf16 -> kBF16, fp16 -> kF16; anything else throws.
ElemType elem_type(at::ScalarType s, const char* op, const char* name);
ElemType elem_type(const at::Tensor& t, const char* op, const char* name);
at::ScalarType scalar_type(ElemType t);
at::ScalarType scale_scalar_type(ScaleDtype d);

// The tensor is defined, contiguous and on `device`.
void check_tensor(const at::Tensor& t, const char* op, const char* name, at::Device device);

// A full-precision input [lead..., T, D] (fp32/bf16/fp16, contiguous) and its layout under f.
struct QuantInput {
  PackedLayout layout;
  ElemType type;
  std::vector<int64_t> lead_shape;
};
QuantInput check_quant_input(const at::Tensor& x, const QuantFormat& f, const char* op);

// Output shapes of the packed tensors of an input with these leading dims.
std::vector<int64_t> codes_shape(const QuantFormat& f, const PackedLayout& l,
                                 const std::vector<int64_t>& lead_shape);
std::vector<int64_t> scales_shape(const QuantFormat& f, const PackedLayout& l,
                                  const std::vector<int64_t>& lead_shape);

// A packed tensor as given to unpack_dequantize or decode_attention: checks dtypes, contiguity,
// device and every shape against the layout of (lead_shape, tokens, channels), where lead_shape
// is read off codes. Returns the layout.
struct PackedInput {
  PackedLayout layout;
  std::vector<int64_t> lead_shape;
};
PackedInput check_packed(const at::Tensor& codes, const at::Tensor& scales,
                         const c10::optional<at::Tensor>& zeros, int64_t tokens, int64_t channels,
                         const QuantFormat& f, const char* op, const char* name);

// Throws unless every element of t is finite (the non-finite policy, kernels/ops.h).
void check_finite(const at::Tensor& t, const char* op, const char* name);

// The error a quantizer's non-finite group count turns into.
[[noreturn]] void throw_non_finite(const at::Tensor& x, const QuantFormat& f, int64_t bad_groups,
                                   const char* op);

// decode_attention: every check, then the raw view (pointers still unset for the device kernel
// to fill in via the returned tensors' data).
struct AttentionCall {
  DecodeAttentionArgs args;
  at::Tensor out;  // [B, Hq, D], q's dtype
};
AttentionCall prepare_attention(const at::Tensor& q, const at::Tensor& k_codes,
                                const at::Tensor& k_scales, const c10::optional<at::Tensor>& k_zeros,
                                int64_t k_tokens, const QuantFormat& kf, const at::Tensor& k_resid,
                                const at::Tensor& v_codes, const at::Tensor& v_scales,
                                const c10::optional<at::Tensor>& v_zeros, int64_t v_tokens,
                                const QuantFormat& vf, const at::Tensor& v_resid,
                                const c10::optional<at::Tensor>& valid);

}  // namespace kvmix::ops
