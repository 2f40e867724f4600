#pragma once
// What every version of the fused decode attention reads the same way: one element of a packed
// operand or its residual window, and the affine form of a uniform code (value = c*A + B) that
// lets the kernels fold scales into the query (keys) or the softmax weights (values).
// __host__ __device__, shared with kernels/decode_attention_cuda.cu.
#include "kernels/decode_attention.h"
#include "kernels/quant_math.h"

namespace kvmix::attn {

// value = c*A + B for every uniform family: asym A = s, B = z; sym A = s, B = -(2^(b-1)-1)*s;
// sym 1-bit A = 2s, B = -s (codes 0/1 stand for -s/+s).
struct Affine {
  float a, b;
};

KVMIX_HD Affine affine_of(QuantFamily fam, int bits, float s, float z) {
  if (fam == QuantFamily::kAsym) return {s, z};
  if (fam == QuantFamily::kSym1) return {2.0f * s, -s};
  return {s, -qmath::Sym::half_levels(bits) * s};
}

// Group index and element-in-group of element (n, t, d) of a packed operand.
KVMIX_HD void locate(const PackedOperand& o, int64_t n, int64_t t, int64_t d, int64_t& g,
                     int64_t& i) {
  const PackedLayout& l = o.layout;
  if (o.format.axis == QuantAxis::kPerChannel) {
    g = (n * l.rows + t / l.group) * l.cols + d;
    i = t % l.group;
  } else {
    g = (n * l.rows + t) * l.cols + d / l.group;
    i = d % l.group;
  }
}

// Element (n, t, d) of the operand: packed when t < tokens, else from the residual window;
// dequantized with the quantizer's own value function (kernels/quant_math.h).
KVMIX_HD float operand_element(const PackedOperand& o, int64_t n, int64_t t, int64_t d) {
  using namespace qmath;
  const PackedLayout& l = o.layout;
  if (t >= l.tokens)
    return load_elem(o.resid, o.resid_type, (n * o.resid_tokens + (t - l.tokens)) * l.channels + d);
  int64_t g, i;
  locate(o, n, t, d, g, i);
  const QuantFamily fam = quant_family(o.format);
  GroupParams p{load_scale(o.scales, o.format.scale_dtype, g), 0.0f, 0.0f};
  if (fam == QuantFamily::kAsym) p.zero = load_scale(o.zeros, o.format.scale_dtype, g);
  const uint32_t q = get_bits(o.codes + g * l.words, i, o.format.bits);
  if (fam == QuantFamily::kAsym) return Asym::value(q, p);
  if (fam == QuantFamily::kSym1) return Sym1::value(q, p);
  return Sym::value(q, p, Sym::half_levels(o.format.bits));
}

}  // namespace kvmix::attn
