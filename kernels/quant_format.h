#pragma once
// The KV quantization formats: one value type shared by C++, CUDA and the tests.
//
// A format says how one K or V tensor [..., tokens, channels] is stored:
//   kind      uniform integer codes, ternary (1.58-bit), fp8 e4m3, or none (model dtype)
//   bits      code width for uniform: 1, 2, 3, 4, 8
//   axis      per-channel: a group is `group` consecutive TOKENS of one channel (KIVI keys);
//             per-token:   a group is `group` consecutive CHANNELS of one token (KIVI values)
//   group     G, elements sharing one scale (and zero); 0 means "the whole channel axis"
//             (per-token with G = head_dim, KVTuner's per-token scheme; per-channel needs G >= 1)
//   symmetric uniform only: zero-point fixed at 0, no zeros stored
//   scale     dtype of the stored scales and zeros, fp16 or fp32
//   residual  newest tokens kept in the model dtype (KIVI's full-precision window)
//   fp8_scope fp8 only: one scale per head (leading index) or per tensor
//
// Math (DESIGN.md, "Quantization formats"):
//   asymmetric b-bit: s = (max - min)/(2^b - 1), z = min, q = clamp(floor((x - z)/s + 1/2), 0, 2^b-1),
//                     x^ = q*s + z. A constant group has s = 0: q = 0 and x^ = z exactly.
//   symmetric  b-bit (b >= 2): s = max|x|/(2^(b-1) - 1), q in [-(2^(b-1)-1), 2^(b-1)-1] stored
//                     with offset 2^(b-1)-1, x^ = q*s.
//   symmetric  1-bit: s = mean|x| (the L2-optimal sign scale), x^ = +-s  (VidKV, arXiv 2503.16257).
//   ternary:          s = mean|x| of the group, t = sign(x) if |x| > s/2 else 0, x^ = s*t
//                     (VidKV's 1.58-bit values; codes t+1 in {0,1,2}).
//   fp8 e4m3:         s = max|x| / 448 over the head or tensor, code = e4m3(x/s) with
//                     round-to-nearest-even and saturation, x^ = decode(code)*s.
// Scales are rounded to their storage dtype BEFORE the codes are computed, so a
// dequantizer that reads the stored scale reproduces the quantizer's grid exactly. The min/max
// scales round up and the asymmetric zero rounds down, so the stored grid still covers the group
// and the error stays within s/2; the mean-based scales (1-bit, ternary) round to nearest.
// kernels/quant_math.h holds this math, shared by the reference, CPU and CUDA kernels.
//
// Packed layout (all little-endian):
//   codes   uint32 words. Within one group, code i occupies bits [i*b, (i+1)*b) of the
//           group's bit stream (codes may straddle words for b = 3); a group starts on a
//           fresh word, so a group takes W = ceil(G*b/32) words. Ternary packs 20 trits per
//           word in base 3 (3^20 < 2^32: 1.6 bits per element), W = ceil(G/20). fp8 packs 4
//           codes per word along channels.
//   per-channel:  codes  [lead..., ceil(T/G), D, W]   scales, zeros [lead..., ceil(T/G), D]
//                 (a last partial token group is allowed: its statistics cover the tokens present
//                 and its missing codes are 0)
//   per-token:    codes  [lead..., T, D/G, W]         scales, zeros [lead..., T, D/G]
//                 (G must divide D)
//   fp8:          codes  [lead..., T, ceil(D/4)]      scales [lead...] (per head) or [1] (per tensor)
//   `lead` is every dimension before the last two (batch, heads). Symmetric, ternary and fp8
//   store no zeros.
#include <cstdint>
#include <string>

namespace kvmix {

enum class QuantKind : uint8_t { kNone, kUniform, kTernary, kFp8E4M3 };
enum class QuantAxis : uint8_t { kPerChannel, kPerToken };
enum class ScaleDtype : uint8_t { kF16, kF32 };
enum class Fp8Scope : uint8_t { kPerHead, kPerTensor };

struct QuantFormat {
  QuantKind kind = QuantKind::kNone;
  int bits = 16;                    // code bits; 16 for kNone (model dtype, fp16/bf16)
  QuantAxis axis = QuantAxis::kPerToken;
  int group = 0;                    // G; 0 = the whole channel axis (per-token only)
  bool symmetric = false;
  ScaleDtype scale_dtype = ScaleDtype::kF16;
  int residual = 0;                 // tokens kept in the model dtype
  Fp8Scope fp8_scope = Fp8Scope::kPerHead;

  bool operator==(const QuantFormat& o) const {
    return kind == o.kind && bits == o.bits && axis == o.axis && group == o.group &&
           symmetric == o.symmetric && scale_dtype == o.scale_dtype && residual == o.residual &&
           fp8_scope == o.fp8_scope;
  }
  bool operator!=(const QuantFormat& o) const { return !(*this == o); }
};

// Constructors for the common cases.
inline QuantFormat full_precision() { return QuantFormat{}; }
inline QuantFormat uniform_format(int bits, QuantAxis axis, int group, int residual = 0,
                                  bool symmetric = false, ScaleDtype sd = ScaleDtype::kF16) {
  QuantFormat f;
  f.kind = QuantKind::kUniform;
  f.bits = bits;
  f.axis = axis;
  f.group = group;
  f.symmetric = symmetric;
  f.scale_dtype = sd;
  f.residual = residual;
  return f;
}
inline QuantFormat ternary_format(QuantAxis axis, int group, int residual = 0,
                                  ScaleDtype sd = ScaleDtype::kF16) {
  QuantFormat f = uniform_format(2, axis, group, residual, true, sd);
  f.kind = QuantKind::kTernary;
  return f;
}
inline QuantFormat fp8_format(Fp8Scope scope, int residual = 0) {
  QuantFormat f;
  f.kind = QuantKind::kFp8E4M3;
  f.bits = 8;
  f.axis = QuantAxis::kPerToken;
  f.scale_dtype = ScaleDtype::kF32;
  f.fp8_scope = scope;
  f.residual = residual;
  return f;
}

// Storage facts ------------------------------------------------------------------

constexpr int kTritsPerWord = 20;  // 3^20 = 3486784401 < 2^32
static_assert(3486784401ULL < (1ULL << 32), "20 trits fit in a 32-bit word");

inline int scale_bytes(ScaleDtype d) { return d == ScaleDtype::kF16 ? 2 : 4; }

// Group size resolved against the channel count D (G = 0 means G = D).
inline int64_t resolved_group(const QuantFormat& f, int64_t channels) {
  return f.group == 0 ? channels : f.group;
}

// uint32 words one group of G codes occupies.
inline int64_t words_per_group(const QuantFormat& f, int64_t group) {
  if (f.kind == QuantKind::kTernary) return (group + kTritsPerWord - 1) / kTritsPerWord;
  return (group * f.bits + 31) / 32;
}

// Nominal bits per element (what KVTuner calls bits; 1.58 for ternary).
inline double nominal_bits(const QuantFormat& f) {
  if (f.kind == QuantKind::kTernary) return 1.58;
  return f.bits;
}

// Tokens of a T-token tensor that stay in the model dtype under the format's residual
// rule (the cache follows the same rule, lib/cache/packed_kv_cache.h):
//   per-channel (KIVI keys): codes exist only for whole token groups, flushed from the residual
//     R tokens at a time, so the residual holds T mod max(R, G) tokens;
//   per-token (KIVI values): a sliding window of the newest min(T, R) tokens.
inline int64_t residual_tokens(const QuantFormat& f, int64_t tokens) {
  if (f.kind == QuantKind::kNone) return tokens;
  if (f.kind == QuantKind::kUniform || f.kind == QuantKind::kTernary) {
    if (f.axis == QuantAxis::kPerChannel) {
      const int64_t g = f.group > 0 ? f.group : 1;
      const int64_t window = f.residual > g ? f.residual : g;
      return tokens % window;
    }
  }
  return tokens < f.residual ? tokens : f.residual;
}

// A short human-readable name, e.g. "u4-asym-ch-g32-f16-r32", "t1.58-tok-g32", "fp8-head".
std::string format_name(const QuantFormat& f);

}  // namespace kvmix
