#pragma once
// The per-element math of every format, shared by the reference (quant_ref.cpp), the CPU kernels
// (quant_cpu_*.cpp) and the CUDA kernels (quant_cuda.cu), so all three produce the same codes and
// the same dequantized values bit for bit. Everything here is __host__ __device__ inline and plain
// C++ when nvcc is not compiling.
//
// Bit-exactness rests on three rules:
//  - only IEEE-rounded fp32 operations (+ - * /, int<->float): no fused multiply-add (the build
//    passes -ffp-contract=off to g++ and --fmad=false to nvcc), no approximate reciprocals;
//  - every reduction either is order-free (min, max) or runs in element order (the sum of |x| of
//    the mean-based scales);
//  - conversions (fp16, bf16, e4m3) are written out here in integer arithmetic instead of relying
//    on the host's or device's instructions.
//
// Contents: bit casts; fp16 / bf16 / e4m3 conversions; group statistics; and one quantizer per
// format family (Asym, Sym, Sym1, Ternary, Fp8), each with params() (group statistics -> stored
// scale and zero), code() (one value -> one code) and value() (one code -> one dequantized value).
#include <cstdint>
#include <cstring>

#include "kernels/hd.h"
#include "kernels/quant_format.h"
#include "kernels/quant_layout.h"  // ElemType


namespace kvmix::qmath {

// ---- bit casts --------------------------------------------------------------------------------

KVMIX_HD uint32_t float_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
#endif
}

KVMIX_HD float bits_float(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}

// Rounds the integer value m / 2^s (s in [1, 31]) to nearest, ties to even.
KVMIX_HD uint32_t shift_round_even(uint32_t m, uint32_t s) {
  const uint32_t q = m >> s;
  const uint32_t rem = m & ((1u << s) - 1u);
  const uint32_t half = 1u << (s - 1u);
  return q + ((rem > half || (rem == half && (q & 1u))) ? 1u : 0u);
}

// ---- fp16 (IEEE binary16) ---------------------------------------------------------------------

constexpr float kF16Max = 65504.0f;

// fp32 -> fp16 bits, round to nearest even, overflow to inf, NaN -> 0x7E00 (as c10::Half does).
KVMIX_HD uint16_t f32_to_f16(float f) {
  const uint32_t u = float_bits(f);
  const uint32_t sign = (u >> 16) & 0x8000u;
  const uint32_t mag = u & 0x7FFFFFFFu;
  if (mag > 0x7F800000u) return static_cast<uint16_t>(sign | 0x7E00u);
  if (mag >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);  // >= 65520 rounds to inf
  if (mag >= 0x38800000u) {  // >= 2^-14: a normal half; rebias the exponent by 127 - 15 = 112
    const uint32_t h = (mag >> 13) - (112u << 10);
    const uint32_t rem = mag & 0x1FFFu;
    const uint32_t up = (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ? 1u : 0u;
    return static_cast<uint16_t>(sign | (h + up));  // a carry rolls into the exponent correctly
  }
  if (mag <= 0x33000000u) return static_cast<uint16_t>(sign);  // <= 2^-25 rounds to zero
  // A subnormal half counts units of 2^-24: |f| = m * 2^(E-150), so units = m >> (126 - E).
  const uint32_t e = mag >> 23;
  const uint32_t m = (mag & 0x7FFFFFu) | 0x800000u;
  return static_cast<uint16_t>(sign | shift_round_even(m, 126u - e));
}

// Written with selects only (both sides are cheap), so conversion loops vectorize.
KVMIX_HD float f16_to_f32(uint16_t h) {
  const uint32_t sign = (static_cast<uint32_t>(h) & 0x8000u) << 16;
  const uint32_t e = (h >> 10) & 0x1Fu;
  const uint32_t m = h & 0x3FFu;
  const float sub = static_cast<float>(m) * 5.9604644775390625e-8f;  // m * 2^-24, exact
  const float subnormal = sign ? -sub : sub;
  const uint32_t other = e == 31 ? (sign | 0x7F800000u | (m << 13))   // inf, NaN
                                 : (sign | ((e + 112u) << 23) | (m << 13));
  return e == 0 ? subnormal : bits_float(other);
}

// All-ones when c holds, else zero: selects written as masks, which GCC's vectorizer takes where
// it turns some ternaries back into branches.
KVMIX_HD uint32_t mask_if(bool c) { return 0u - static_cast<uint32_t>(c); }
KVMIX_HD uint32_t select_u32(bool c, uint32_t a, uint32_t b) {
  const uint32_t m = mask_if(c);
  return (a & m) | (b & ~m);
}

KVMIX_HD float select_f32(bool c, float a, float b) {
  return bits_float(select_u32(c, float_bits(a), float_bits(b)));
}

// |x| (given as fp32 bits, finite) moved onto the fp16 grid, away from zero or toward zero;
// returns fp32 bits of a value fp16 represents exactly, or of inf when away-rounding overflows.
// Branch-free, so the CPU kernels' per-group loops vectorize.
KVMIX_HD uint32_t f16_grid_magnitude(uint32_t mag, bool away) {
  const uint32_t e = mag >> 23;
  // fp16 keeps 10 mantissa bits above 2^-14 and a fixed quantum 2^-24 below: drop k fp32 bits.
  const uint32_t k = select_u32(e >= 113, 13u, select_u32(e >= 103, 126u - e, 13u));
  const uint32_t drop = (1u << k) - 1u;
  const uint32_t r = ((mag + (drop & mask_if(away))) & ~drop);
  const uint32_t tiny = 0x33800000u & mask_if(away & (mag != 0));  // below 2^-24, the least subnormal
  const uint32_t top = select_u32(away, 0x7F800000u, 0x477FE000u);  // beyond 65504: inf, or 65504
  return select_u32(e < 103, tiny, select_u32(r > 0x477FE000u, top, r));
}

// The smallest fp16 value >= x (as fp32; +inf beyond 65504). x finite.
KVMIX_HD float f16_round_up(float x) {
  const uint32_t u = float_bits(x);
  const uint32_t sign = u & 0x80000000u;
  return bits_float(sign | f16_grid_magnitude(u & 0x7FFFFFFFu, sign == 0));
}

// The largest fp16 value <= x (as fp32; -inf below -65504). x finite.
KVMIX_HD float f16_round_down(float x) { return -f16_round_up(-x); }

KVMIX_HD float f16_round_nearest(float x) { return f16_to_f32(f32_to_f16(x)); }

// fp16 bits of a value already on the fp16 grid (or +-inf, NaN), without branches: scaling by
// 2^-112 moves the exponent bias from 127 to 15, so the top bits of the fp32 pattern are the fp16
// pattern (fp32 subnormals cover the fp16 subnormals; exact because v is a multiple of 2^-24).
// Equals f32_to_f16(v) for every such v.
KVMIX_HD uint16_t f16_bits_of_grid_value(float v) {
  const uint32_t u = float_bits(v);
  const uint32_t sign = (u >> 16) & 0x8000u;
  const uint32_t mag = u & 0x7FFFFFFFu;
  const uint32_t h = float_bits(bits_float(mag) * 0x1p-112f) >> 13;  // * 2^-112
  const uint32_t special = select_u32(mag > 0x7F800000u, 0x7E00u, 0x7C00u);
  return static_cast<uint16_t>(sign | select_u32(mag >= 0x7F800000u, special, h));
}

// ---- bf16 ---------------------------------------------------------------------------------------

// fp32 -> bf16 bits, round to nearest even, NaN -> 0x7FC0 (as c10::BFloat16 does).
KVMIX_HD uint16_t f32_to_bf16(float f) {
  const uint32_t u = float_bits(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return 0x7FC0u;
  return static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

KVMIX_HD float bf16_to_f32(uint16_t h) { return bits_float(static_cast<uint32_t>(h) << 16); }

// ---- fp8 e4m3 (OCP 8-bit floating point spec v1.0, "E4M3FN": bias 7, no inf, S.1111.111 = NaN) --

constexpr float kE4M3Max = 448.0f;  // S.1111.110 = 1.75 * 2^8

// fp32 -> e4m3, round to nearest even, saturating to +-448 (the spec's "satfinite" conversion).
KVMIX_HD uint8_t f32_to_e4m3(float f) {
  const uint32_t u = float_bits(f);
  const uint32_t sign = (u >> 24) & 0x80u;
  const uint32_t mag = u & 0x7FFFFFFFu;
  if (mag > 0x7F800000u) return static_cast<uint8_t>(sign | 0x7Fu);
  if (mag >= 0x43E00000u) return static_cast<uint8_t>(sign | 0x7Eu);  // >= 448 (and inf)
  if (mag >= 0x3C800000u) {  // >= 2^-6: normal; rebias the exponent by 127 - 7 = 120
    uint32_t c = shift_round_even(mag - (120u << 23), 20);  // exponent and 3 mantissa bits, rounded
    if (c > 0x7Eu) c = 0x7Eu;
    return static_cast<uint8_t>(sign | c);
  }
  if (mag <= 0x3A800000u) return static_cast<uint8_t>(sign);  // <= 2^-10 rounds to zero
  // Subnormals count units of 2^-9: |f| = m * 2^(E-150), so units = m >> (141 - E).
  const uint32_t e = mag >> 23;
  const uint32_t m = (mag & 0x7FFFFFu) | 0x800000u;
  return static_cast<uint8_t>(sign | shift_round_even(m, 141u - e));  // 8 units = 2^-6, code 0x08
}

KVMIX_HD float e4m3_to_f32(uint8_t c) {
  const uint32_t sign = (static_cast<uint32_t>(c) & 0x80u) << 24;
  const uint32_t e = (c >> 3) & 0xFu;
  const uint32_t m = c & 0x7u;
  if (e == 0) {
    const float v = static_cast<float>(m) * 0.001953125f;  // m * 2^-9, exact
    return sign ? -v : v;
  }
  if (e == 15 && m == 7) return bits_float(0x7FC00000u);
  return bits_float(sign | ((e + 120u) << 23) | (m << 20));
}

// ---- element and scale access -------------------------------------------------------------------

KVMIX_HD float load_elem(const void* p, ElemType t, int64_t i) {
  if (t == ElemType::kF32) return static_cast<const float*>(p)[i];
  const uint16_t h = static_cast<const uint16_t*>(p)[i];
  return t == ElemType::kBF16 ? bf16_to_f32(h) : f16_to_f32(h);
}

KVMIX_HD void store_elem(void* p, ElemType t, int64_t i, float v) {
  if (t == ElemType::kF32) {
    static_cast<float*>(p)[i] = v;
  } else {
    static_cast<uint16_t*>(p)[i] = t == ElemType::kBF16 ? f32_to_bf16(v) : f32_to_f16(v);
  }
}

KVMIX_HD float load_scale(const void* p, ScaleDtype d, int64_t i) {
  if (d == ScaleDtype::kF32) return static_cast<const float*>(p)[i];
  return f16_to_f32(static_cast<const uint16_t*>(p)[i]);
}

// v is already on the storage grid (store_scale_up and friends), so the conversion is exact.
KVMIX_HD void store_scale(void* p, ScaleDtype d, int64_t i, float v) {
  if (d == ScaleDtype::kF32) {
    static_cast<float*>(p)[i] = v;
  } else {
    static_cast<uint16_t*>(p)[i] = f16_bits_of_grid_value(v);
  }
}

KVMIX_HD bool is_finite(float v) { return v - v == 0.0f; }  // inf - inf and NaN - NaN are NaN

// ---- scales -------------------------------------------------------------------------------------

// The smallest fp32 scale kept: 1/s must stay finite (1/2^-126 = 2^126), so a positive range
// below it is widened to it (this only touches groups whose spread is below 1e-38).
constexpr float kMinF32Scale = 1.1754943508222875e-38f;  // 2^-126, FLT_MIN

// A scale rounded UP onto its storage grid: the grid z + q*s then still covers the group's range,
// which keeps the per-element error within s/2 (an fp16 scale rounded to nearest could shrink the
// grid and push the max element beyond s/2).
KVMIX_HD float store_scale_up(float s, ScaleDtype d) {
  const float f32 = select_f32((s > 0.0f) & (s < kMinF32Scale), kMinF32Scale, s);
  return select_f32(d == ScaleDtype::kF16, f16_round_up(s), f32);
}

// A zero-point rounded DOWN onto its storage grid (it must stay <= the group's min).
KVMIX_HD float store_zero_down(float z, ScaleDtype d) {
  return select_f32(d == ScaleDtype::kF16, f16_round_down(z), z);
}

// A mean-based scale (no coverage requirement) rounded to nearest.
KVMIX_HD float store_scale_nearest(float s, ScaleDtype d) {
  if (d == ScaleDtype::kF16) return f16_round_nearest(s);
  return select_f32((s > 0.0f) & (s < kMinF32Scale), kMinF32Scale, s);
}

// 1/s, or 0 for s = 0; the division never sees a zero, so a vectorized loop may compute it in
// every lane before selecting.
KVMIX_HD float safe_inverse(float s) {
  const float inv = 1.0f / select_f32(s > 0.0f, s, 1.0f);
  return select_f32(s > 0.0f, inv, 0.0f);
}

// A group whose statistics saw a NaN or inf gets a NaN scale; the launchers refuse any output
// whose stored scales or zeros are not finite (kernels/ops.h states the policy).
constexpr uint32_t kNanBits = 0x7FC00000u;

// ---- group statistics ---------------------------------------------------------------------------

// Everything any format needs from one group, accumulated in element order.
// `probe` sums x*0: it stays +-0 for finite input and becomes NaN once a NaN or inf is seen
// (min/max comparisons would silently skip a NaN).
struct GroupStats {
  float mn, mx, amax, abs_sum, probe;
};

KVMIX_HD GroupStats stats_init() {
  return {bits_float(0x7F800000u), bits_float(0xFF800000u), 0.0f, 0.0f, 0.0f};
}

KVMIX_HD void stats_add(GroupStats& st, float x) {
  st.mn = x < st.mn ? x : st.mn;
  st.mx = x > st.mx ? x : st.mx;
  const float a = x < 0.0f ? -x : x;
  st.amax = a > st.amax ? a : st.amax;
  st.abs_sum = st.abs_sum + a;
  st.probe = st.probe + x * 0.0f;
}

// The stored parameters of one group: scale and zero exactly as stored (fp16 values widened),
// and inv = 1/scale (0 for a zero scale) used to compute codes.
struct GroupParams {
  float scale, zero, inv;
};

KVMIX_HD GroupParams params_poisoned(GroupParams p, float probe) {
  p.scale = select_f32(probe != probe, bits_float(kNanBits), p.scale);
  return p;
}

// ---- asymmetric uniform (KIVI, arXiv 2402.02750, eq. 1) ----------------------------------------
// s = (max - min)/(2^b - 1), z = min; q = clamp(floor((x - z)/s + 1/2), 0, 2^b - 1); x^ = q*s + z.

struct Asym {
  static KVMIX_HD float levels(int bits) { return static_cast<float>((1u << bits) - 1u); }

  static KVMIX_HD GroupParams params(const GroupStats& st, int n, int bits, ScaleDtype d) {
    // + 0 turns a -0 min or max into +0, so every version agrees whichever zero its min/max kept
    const float z = store_zero_down(st.mn + 0.0f, d);
    const float s = store_scale_up((st.mx + 0.0f - z) / levels(bits), d);
    return params_poisoned({s, z, safe_inverse(s)}, st.probe);
  }
  // (x - z) >= 0 since z <= min, so truncation after the clamp is the floor.
  static KVMIX_HD uint32_t code(float x, const GroupParams& p, float levels) {
    float v = (x - p.zero) * p.inv + 0.5f;
    v = v > 0.0f ? v : 0.0f;
    v = v < levels ? v : levels;
    return static_cast<uint32_t>(static_cast<int32_t>(v));
  }
  static KVMIX_HD float value(uint32_t q, const GroupParams& p) {
    return static_cast<float>(static_cast<int32_t>(q)) * p.scale + p.zero;
  }
};

// ---- symmetric uniform, b >= 2 -----------------------------------------------------------------
// s = max|x|/(2^(b-1) - 1); q in [-(2^(b-1)-1), 2^(b-1)-1] stored with offset 2^(b-1)-1; x^ = q*s.

struct Sym {
  static KVMIX_HD float half_levels(int bits) { return static_cast<float>((1u << (bits - 1)) - 1u); }

  static KVMIX_HD GroupParams params(const GroupStats& st, int n, int bits, ScaleDtype d) {
    const float s = store_scale_up((st.amax + 0.0f) / half_levels(bits), d);  // -0 -> +0
    return params_poisoned({s, 0.0f, safe_inverse(s)}, st.probe);
  }
  // `half` = 2^(b-1) - 1; floor(x/s + 1/2) + half computed as one rounding of x/s + (half + 1/2).
  static KVMIX_HD uint32_t code(float x, const GroupParams& p, float half) {
    float v = x * p.inv + (half + 0.5f);
    v = v > 0.0f ? v : 0.0f;
    v = v < 2.0f * half ? v : 2.0f * half;
    return static_cast<uint32_t>(static_cast<int32_t>(v));
  }
  static KVMIX_HD float value(uint32_t q, const GroupParams& p, float half) {
    return (static_cast<float>(static_cast<int32_t>(q)) - half) * p.scale;
  }
};

// Shared by the mean-based formats: s = mean|x|, the sum taken in element order.
KVMIX_HD float mean_abs(const GroupStats& st, int n) {
  return st.abs_sum / static_cast<float>(n);
}

// ---- symmetric 1-bit: x^ = +-s with s = mean|x|, the L2-optimal scale for sign codes -----------
// (VidKV, arXiv 2503.16257, sec. 3.2, 1-bit keys).

struct Sym1 {
  static KVMIX_HD GroupParams params(const GroupStats& st, int n, ScaleDtype d) {
    const float s = store_scale_nearest(mean_abs(st, n), d);
    return params_poisoned({s, 0.0f, 0.0f}, st.probe);
  }
  static KVMIX_HD uint32_t code(float x) { return x >= 0.0f ? 1u : 0u; }
  static KVMIX_HD float value(uint32_t q, const GroupParams& p) { return q ? p.scale : -p.scale; }
};

// ---- ternary 1.58-bit: t = sign(x) where |x| > s/2, else 0; x^ = s*t, s = mean|x| --------------
// (VidKV, arXiv 2503.16257, sec. 3.2, 1.58-bit values). Codes are t + 1 in {0, 1, 2}.

struct Ternary {
  static KVMIX_HD GroupParams params(const GroupStats& st, int n, ScaleDtype d) {
    const float s = store_scale_nearest(mean_abs(st, n), d);
    return params_poisoned({s, 0.0f, s * 0.5f}, st.probe);  // inv holds the threshold s/2
  }
  static KVMIX_HD uint32_t code(float x, const GroupParams& p) {
    return x > p.inv ? 2u : (x < -p.inv ? 0u : 1u);
  }
  static KVMIX_HD float value(uint32_t q, const GroupParams& p) {
    return (static_cast<float>(static_cast<int32_t>(q)) - 1.0f) * p.scale;
  }
};

// ---- fp8 e4m3 with one scale per head or tensor: s = max|x|/448, code = e4m3(x/s) ---------------

struct Fp8 {
  static KVMIX_HD GroupParams params(float amax, float probe, ScaleDtype d) {
    const float s = store_scale_up((amax + 0.0f) / kE4M3Max, d);  // -0 -> +0
    return params_poisoned({s, 0.0f, safe_inverse(s)}, probe);
  }
  static KVMIX_HD uint32_t code(float x, const GroupParams& p) { return f32_to_e4m3(x * p.inv); }
  static KVMIX_HD float value(uint32_t c, const GroupParams& p) {
    return e4m3_to_f32(static_cast<uint8_t>(c)) * p.scale;
  }
};

// ---- dispatch on the family at run time (reference and CUDA; the CPU kernels use templates) -----

KVMIX_HD GroupParams family_params(QuantFamily fam, const GroupStats& st, int n, int bits,
                                   ScaleDtype d) {
  switch (fam) {
    case QuantFamily::kAsym:
      return Asym::params(st, n, bits, d);
    case QuantFamily::kSym:
      return Sym::params(st, n, bits, d);
    case QuantFamily::kSym1:
      return Sym1::params(st, n, d);
    default:
      return Ternary::params(st, n, d);
  }
}

KVMIX_HD uint32_t family_code(QuantFamily fam, float x, const GroupParams& p, int bits) {
  switch (fam) {
    case QuantFamily::kAsym:
      return Asym::code(x, p, Asym::levels(bits));
    case QuantFamily::kSym:
      return Sym::code(x, p, Sym::half_levels(bits));
    case QuantFamily::kSym1:
      return Sym1::code(x);
    default:
      return Ternary::code(x, p);
  }
}

KVMIX_HD float family_value(QuantFamily fam, uint32_t q, const GroupParams& p, int bits) {
  switch (fam) {
    case QuantFamily::kAsym:
      return Asym::value(q, p);
    case QuantFamily::kSym:
      return Sym::value(q, p, Sym::half_levels(bits));
    case QuantFamily::kSym1:
      return Sym1::value(q, p);
    default:
      return Ternary::value(q, p);
  }
}

// ---- packing ------------------------------------------------------------------------------------

// 3^k for k < 20 (a loop, not a table, so device code can call it).
KVMIX_HD uint32_t pow3(int64_t k) {
  uint32_t p = 1;
  for (int64_t j = 0; j < k; ++j) p *= 3u;
  return p;
}

// Writes code q (bits wide) as element i of a group's bit stream (words zeroed beforehand).
KVMIX_HD void put_bits(uint32_t* words, int64_t i, uint32_t q, int bits) {
  const int64_t pos = i * bits;
  const int64_t w = pos >> 5;
  const int sh = static_cast<int>(pos & 31);
  words[w] |= q << sh;
  if (sh + bits > 32) words[w + 1] |= q >> (32 - sh);
}

KVMIX_HD uint32_t get_bits(const uint32_t* words, int64_t i, int bits) {
  const int64_t pos = i * bits;
  const int64_t w = pos >> 5;
  const int sh = static_cast<int>(pos & 31);
  uint32_t v = words[w] >> sh;
  if (sh + bits > 32) v |= words[w + 1] << (32 - sh);
  return v & ((1u << bits) - 1u);
}

KVMIX_HD void put_trit(uint32_t* words, int64_t i, uint32_t t) {
  words[i / kTritsPerWord] += t * pow3(i % kTritsPerWord);
}

KVMIX_HD uint32_t get_trit(const uint32_t* words, int64_t i) {
  return (words[i / kTritsPerWord] / pow3(i % kTritsPerWord)) % 3u;
}

}  // namespace kvmix::qmath
