#pragma once
// The per-element code and value functions of kernels/quant_math.h, specialised per format family
// at compile time, so the CPU kernels' inner loops hold no switch and auto-vectorize. Internal to
// the CPU kernels (kernels/quant_cpu_*.cpp).
//
// Parameters travel as three lane arrays or scalars: z (zero), inv (1/scale, or the ternary
// threshold s/2) and s (scale); `k` is the family's level constant (asym: 2^b - 1,
// sym: 2^(b-1) - 1, else unused).
#include <cstdint>
#include <vector>

#include "kernels/quant_layout.h"
#include "kernels/quant_math.h"

#define KVMIX_INLINE __attribute__((always_inline)) inline

namespace kvmix::cpu {

template <QuantFamily F>
KVMIX_INLINE uint32_t codec_code(float x, float z, float inv, float k) {
  using namespace qmath;
  if constexpr (F == QuantFamily::kAsym) return Asym::code(x, GroupParams{0.0f, z, inv}, k);
  if constexpr (F == QuantFamily::kSym) return Sym::code(x, GroupParams{0.0f, 0.0f, inv}, k);
  if constexpr (F == QuantFamily::kSym1) return Sym1::code(x);
  if constexpr (F == QuantFamily::kTernary) return Ternary::code(x, GroupParams{0.0f, 0.0f, inv});
  return 0;
}

template <QuantFamily F>
KVMIX_INLINE float codec_value(uint32_t q, float s, float z, float k) {
  using namespace qmath;
  if constexpr (F == QuantFamily::kAsym) return Asym::value(q, GroupParams{s, z, 0.0f});
  if constexpr (F == QuantFamily::kSym) return Sym::value(q, GroupParams{s, 0.0f, 0.0f}, k);
  if constexpr (F == QuantFamily::kSym1) return Sym1::value(q, GroupParams{s, 0.0f, 0.0f});
  if constexpr (F == QuantFamily::kTernary) return Ternary::value(q, GroupParams{s, 0.0f, 0.0f});
  return 0.0f;
}

// The level constant k of codec_code / codec_value.
inline float codec_levels(QuantFamily fam, int bits) {
  if (fam == QuantFamily::kAsym) return qmath::Asym::levels(bits);
  if (fam == QuantFamily::kSym) return qmath::Sym::half_levels(bits);
  return 0.0f;
}

// Parameters of n groups (lanes) from their statistics: asym a = min, b = max; sym a = max|x|;
// sym1/ternary a = sum|x| (element order). `cnt` elements per group. Branch-free, so the loop
// vectorizes across lanes.
template <QuantFamily F>
KVMIX_INLINE void lane_params(const QuantFormat& f, int cnt, int64_t n, const float* __restrict a,
                              const float* __restrict b, const float* __restrict probe,
                              float* __restrict s, float* __restrict z, float* __restrict inv) {
  using namespace qmath;
  const int bits = f.bits;
  const ScaleDtype sd = f.scale_dtype;
  for (int64_t j = 0; j < n; ++j) {
    const GroupStats st{a[j], b[j], a[j], a[j], probe[j]};
    GroupParams p{};
    if constexpr (F == QuantFamily::kAsym) p = Asym::params(st, cnt, bits, sd);
    if constexpr (F == QuantFamily::kSym) p = Sym::params(st, cnt, bits, sd);
    if constexpr (F == QuantFamily::kSym1) p = Sym1::params(st, cnt, sd);
    if constexpr (F == QuantFamily::kTernary) p = Ternary::params(st, cnt, sd);
    s[j] = p.scale;
    z[j] = p.zero;
    inv[j] = p.inv;
  }
}

// Stores n groups' scales (and zeros) at groups g0.. and returns how many are not finite.
KVMIX_INLINE int64_t store_lane_params(const QuantFormat& f, bool with_zeros, int64_t n,
                                       const float* __restrict s, const float* __restrict z,
                                       void* scales, void* zeros, int64_t g0) {
  using namespace qmath;
  int64_t bad = 0;
  for (int64_t j = 0; j < n; ++j) bad += (is_finite(s[j]) & is_finite(z[j])) ? 0 : 1;
  const float* src[2] = {s, z};
  void* dst[2] = {scales, with_zeros ? zeros : nullptr};
  for (int k = 0; k < 2; ++k) {  // the dtype test outside the loops (qmath::store_scale inside)
    if (!dst[k]) continue;
    const float* v = src[k];
    if (f.scale_dtype == ScaleDtype::kF32) {
      float* out = static_cast<float*>(dst[k]) + g0;
      for (int64_t j = 0; j < n; ++j) out[j] = v[j];
    } else {
      uint16_t* out = static_cast<uint16_t*>(dst[k]) + g0;
      for (int64_t j = 0; j < n; ++j) out[j] = f16_bits_of_grid_value(v[j]);
    }
  }
  return bad;
}

KVMIX_INLINE void load_lane_params(const QuantFormat& f, bool with_zeros, int64_t n,
                                   const void* scales, const void* zeros, int64_t g0, float* s,
                                   float* z) {
  using namespace qmath;
  const void* src[2] = {scales, with_zeros ? zeros : nullptr};
  float* dst[2] = {s, z};
  for (int k = 0; k < 2; ++k) {  // the dtype test outside the loops (qmath::load_scale inside)
    float* v = dst[k];
    if (!src[k]) {
      for (int64_t j = 0; j < n; ++j) v[j] = 0.0f;
    } else if (f.scale_dtype == ScaleDtype::kF32) {
      const float* in = static_cast<const float*>(src[k]) + g0;
      for (int64_t j = 0; j < n; ++j) v[j] = in[j];
    } else {
      const uint16_t* in = static_cast<const uint16_t*>(src[k]) + g0;
      for (int64_t j = 0; j < n; ++j) v[j] = f16_to_f32(in[j]);
    }
  }
}

// Per-thread buffers, grown on first use and reused across the work items of one thread.
struct Scratch {
  std::vector<float> x, out, s, z, inv, a, b, c, probe;
  std::vector<uint32_t> q, words;

  static float* grow(std::vector<float>& v, int64_t n) {
    if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
    return v.data();
  }
  static uint32_t* grow(std::vector<uint32_t>& v, int64_t n) {
    if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
    return v.data();
  }
};

// Per-axis drivers (kernels/quant_cpu_channel.cpp, kernels/quant_cpu_token.cpp,
// kernels/quant_cpu_fp8.cpp); `out` null means quantize+pack, `codes` null means fake-quant.
int64_t quantize_channel(const QuantFormat& f, const PackedLayout& l, const void* x, ElemType xt,
                         uint32_t* codes, void* scales, void* zeros, void* fake_out);
void dequantize_channel(const QuantFormat& f, const PackedLayout& l, const uint32_t* codes,
                        const void* scales, const void* zeros, void* out, ElemType ot);
int64_t quantize_token(const QuantFormat& f, const PackedLayout& l, const void* x, ElemType xt,
                       uint32_t* codes, void* scales, void* zeros, void* fake_out);
void dequantize_token(const QuantFormat& f, const PackedLayout& l, const uint32_t* codes,
                      const void* scales, const void* zeros, void* out, ElemType ot);
// AVX-512 intrinsics for uniform asym/sym formats of 1, 2, 4, 8 bits whose groups fill whole
// words (kernels/quant_cpu_avx512.cpp); x86-64 only.
bool avx512_supports(const QuantFormat& f, const PackedLayout& l);
int64_t quantize_avx512(const QuantFormat& f, const PackedLayout& l, const void* x, ElemType xt,
                        uint32_t* codes, void* scales, void* zeros, void* fake_out);
void dequantize_avx512(const QuantFormat& f, const PackedLayout& l, const uint32_t* codes,
                       const void* scales, const void* zeros, void* out, ElemType ot);
int64_t quantize_fp8(const QuantFormat& f, const PackedLayout& l, const void* x, ElemType xt,
                     uint32_t* codes, void* scales, void* fake_out);
void dequantize_fp8(const QuantFormat& f, const PackedLayout& l, const uint32_t* codes,
                    const void* scales, void* out, ElemType ot);

}  // namespace kvmix::cpu
