// CPU kernels for per-token groups (KIVI values, arXiv 2402.02750 sec. 3.1: value errors are
// averaged by attention per token, so values are grouped along channels; KVTuner's per-token
// scheme is the special case G = head_dim).
//
// A group is G contiguous channels of one token and G divides D, so group g of the flattened
// tensor is simply elements [g*G, (g+1)*G): the kernels walk blocks of 16 consecutive groups.
// Per block: min/max reduced to 16 lanes per group, then across groups with one transposed
// reduction (order-free, so equal to the reference's element-order scan); the sum of |x| of the
// mean-based formats runs in element order like the reference; parameters for the 16 groups in
// one vectorized loop; codes for the block, packed word by word. Variants: quantize+pack, fused
// fake-quant, unpack+dequantize.
#include <omp.h>

#include "kernels/cpu_target.h"
#include "kernels/elem_rows.h"
#include "kernels/quant_cpu_codec.h"
#include "kernels/simd.h"

#pragma GCC diagnostic ignored "-Wpsabi"  // 64-byte vectors only in always-inline helpers

namespace kvmix::cpu {

using namespace qmath;

namespace {

constexpr int64_t kBlock = simd::kLanes;   // groups per block
constexpr int64_t kBlocksPerItem = 16;     // work item: 256 groups

// Statistics of the 16 groups of a block at xb (G elements each) into a, b, probe [16].
template <QuantFamily F>
KVMIX_INLINE void block_stats(const float* xb, int64_t G, float* a, float* b, float* probe) {
  using namespace simd;
  const float inf = bits_float(0x7F800000u);
  if (G % kLanes == 0) {
    f32x16 va[kBlock], vb[kBlock], vp[kBlock];
    for (int64_t j = 0; j < kBlock; ++j) {
      const float* xg = xb + j * G;
      f32x16 pa = splat(F == QuantFamily::kAsym ? inf : 0.0f), pb = splat(-inf), pp = splat(0.0f);
      for (int64_t i = 0; i < G; i += kLanes) {
        const f32x16 v = load(xg + i);
        if constexpr (F == QuantFamily::kAsym) {
          pa = vmin(pa, v);
          pb = vmax(pb, v);
        } else if constexpr (F == QuantFamily::kSym) {
          pa = vmax(pa, v < 0.0f ? -v : v);
        }
        pp = pp + v * 0.0f;
      }
      va[j] = pa;
      vb[j] = pb;
      vp[j] = pp;
    }
    if constexpr (F == QuantFamily::kAsym) {
      store(a, transpose_reduce(va, MinOp{}));
      store(b, transpose_reduce(vb, MaxOp{}));
    } else if constexpr (F == QuantFamily::kSym) {
      store(a, transpose_reduce(va, MaxOp{}));
    }
    store(probe, transpose_reduce(vp, AddOp{}));
  } else {
    for (int64_t j = 0; j < kBlock; ++j) {
      const float* xg = xb + j * G;
      float pa = F == QuantFamily::kAsym ? inf : 0.0f, pb = -inf, pp = 0.0f;
      for (int64_t i = 0; i < G; ++i) {
        const float v = xg[i], av = v < 0.0f ? -v : v;
        pa = F == QuantFamily::kAsym ? (v < pa ? v : pa) : (av > pa ? av : pa);
        pb = v > pb ? v : pb;
        pp = pp + v * 0.0f;
      }
      a[j] = pa;
      b[j] = pb;
      probe[j] = pp;
    }
  }
  if constexpr (F == QuantFamily::kSym1 || F == QuantFamily::kTernary) {
    for (int64_t j = 0; j < kBlock; ++j) {
      const float* xg = xb + j * G;
      float sum = 0.0f;
      for (int64_t i = 0; i < G; ++i) sum = sum + (xg[i] < 0.0f ? -xg[i] : xg[i]);
      a[j] = sum;
    }
  }
}

// Packs a row of codes q (each < 2^B) into words, 32/B codes per word; valid when every group
// fills whole words (G a multiple of 32/B), so the row's groups are packed back to back.
template <int B>
KVMIX_INLINE void pack_row(const uint32_t* q, uint32_t* words, int64_t nwords) {
  constexpr int C = 32 / B;
  for (int64_t r = 0; r < nwords; ++r) {
    uint32_t w = 0;
    for (int j = 0; j < C; ++j) w |= q[r * C + j] << (j * B);
    words[r] = w;
  }
}

template <int B>
KVMIX_INLINE void unpack_row(const uint32_t* words, uint32_t* q, int64_t nwords) {
  constexpr int C = 32 / B;
  constexpr uint32_t kMask = (1u << B) - 1u;
  for (int64_t r = 0; r < nwords; ++r)
    for (int j = 0; j < C; ++j) q[r * C + j] = (words[r] >> (j * B)) & kMask;
}

// Any format: group by group, element by element (ternary, 3-bit, groups not filling words).
KVMIX_INLINE void pack_row_generic(QuantFamily fam, const uint32_t* q, int64_t D, int64_t G,
                                   int64_t W, int bits, uint32_t* words) {
  for (int64_t c = 0; c < D / G; ++c) {
    uint32_t* wg = words + c * W;
    for (int64_t w = 0; w < W; ++w) wg[w] = 0;
    for (int64_t i = 0; i < G; ++i) {
      if (fam == QuantFamily::kTernary) {
        put_trit(wg, i, q[c * G + i]);
      } else {
        put_bits(wg, i, q[c * G + i], bits);
      }
    }
  }
}

KVMIX_INLINE void unpack_row_generic(QuantFamily fam, const uint32_t* words, int64_t D, int64_t G,
                                     int64_t W, int bits, uint32_t* q) {
  for (int64_t c = 0; c < D / G; ++c) {
    const uint32_t* wg = words + c * W;
    for (int64_t i = 0; i < G; ++i)
      q[c * G + i] = fam == QuantFamily::kTernary ? get_trit(wg, i) : get_bits(wg, i, bits);
  }
}

KVMIX_INLINE bool packs_whole_words(QuantFamily fam, int bits, int64_t G) {
  return fam != QuantFamily::kTernary && 32 % bits == 0 && G % (32 / bits) == 0;
}

KVMIX_INLINE void pack_any(QuantFamily fam, const uint32_t* q, int64_t D, int64_t G, int64_t W,
                           int bits, uint32_t* words) {
  if (!packs_whole_words(fam, bits, G)) return pack_row_generic(fam, q, D, G, W, bits, words);
  switch (bits) {
    case 1:
      return pack_row<1>(q, words, D / 32);
    case 2:
      return pack_row<2>(q, words, D / 16);
    case 4:
      return pack_row<4>(q, words, D / 8);
    default:
      return pack_row<8>(q, words, D / 4);
  }
}

KVMIX_INLINE void unpack_any(QuantFamily fam, const uint32_t* words, int64_t D, int64_t G,
                             int64_t W, int bits, uint32_t* q) {
  if (!packs_whole_words(fam, bits, G)) return unpack_row_generic(fam, words, D, G, W, bits, q);
  switch (bits) {
    case 1:
      return unpack_row<1>(words, q, D / 32);
    case 2:
      return unpack_row<2>(words, q, D / 16);
    case 4:
      return unpack_row<4>(words, q, D / 8);
    default:
      return unpack_row<8>(words, q, D / 4);
  }
}

// Groups [g0, g1) (a multiple of 16 apart, except at the end of the tensor, where the last
// block is padded by reading the reference's way): quantize+pack, or fake-quant into fake_out.
template <QuantFamily F>
KVMIX_INLINE int64_t token_groups_t(const QuantFormat& f, const PackedLayout& l, const void* x,
                                    ElemType xt, int64_t g0, int64_t g1, uint32_t* codes,
                                    void* scales, void* zeros, void* fake_out, Scratch& sc) {
  const int64_t G = l.group, W = l.words;
  const float k = codec_levels(F, f.bits);
  float* xbuf = Scratch::grow(sc.x, kBlock * G);
  float* obuf = Scratch::grow(sc.out, kBlock * G);
  uint32_t* q = Scratch::grow(sc.q, kBlock * G);
  float *a = Scratch::grow(sc.a, kBlock), *b = Scratch::grow(sc.b, kBlock);
  float *probe = Scratch::grow(sc.probe, kBlock), *s = Scratch::grow(sc.s, kBlock);
  float *z = Scratch::grow(sc.z, kBlock), *inv = Scratch::grow(sc.inv, kBlock);
  int64_t bad = 0;
  for (int64_t gb = g0; gb < g1; gb += kBlock) {
    const int64_t n = g1 - gb < kBlock ? g1 - gb : kBlock;  // groups in this block
    const int64_t off = gb * G, len = n * G;
    const float* xb;
    if (n == kBlock) {
      xb = row_as_f32(x, xt, off, len, xbuf);
    } else {  // a short last block: pad with copies of its first group (their results are dropped)
      load_row_f32(x, xt, off, len, xbuf);
      for (int64_t e = len; e < kBlock * G; ++e) xbuf[e] = xbuf[e % G];
      xb = xbuf;
    }
    block_stats<F>(xb, G, a, b, probe);
    lane_params<F>(f, static_cast<int>(G), kBlock, a, b, probe, s, z, inv);
    if (fake_out) {
      bad += store_lane_params(f, false, n, s, z, nullptr, nullptr, 0);
      float* ob = (xt == ElemType::kF32 && n == kBlock) ? static_cast<float*>(fake_out) + off : obuf;
      for (int64_t j = 0; j < n; ++j) {
        const float* xg = xb + j * G;
        float* og = ob + j * G;
        const float sj = s[j], zj = z[j], ij = inv[j];
        for (int64_t i = 0; i < G; ++i)
          og[i] = codec_value<F>(codec_code<F>(xg[i], zj, ij, k), sj, zj, k);
      }
      if (ob == obuf) store_row_f32(ob, len, xt, fake_out, off);
    } else {
      bad += store_lane_params(f, F == QuantFamily::kAsym, n, s, z, scales, zeros, gb);
      for (int64_t j = 0; j < n; ++j) {
        const float* xg = xb + j * G;
        uint32_t* qg = q + j * G;
        const float zj = z[j], ij = inv[j];
        for (int64_t i = 0; i < G; ++i) qg[i] = codec_code<F>(xg[i], zj, ij, k);
      }
      pack_any(F, q, len, G, W, f.bits, codes + gb * W);
    }
  }
  return bad;
}

KVMIX_CPU_CLONES int64_t token_groups(const QuantFormat& f, const PackedLayout& l, const void* x,
                                      ElemType xt, int64_t g0, int64_t g1, uint32_t* codes,
                                      void* scales, void* zeros, void* fake_out, Scratch& sc) {
  switch (quant_family(f)) {
    case QuantFamily::kAsym:
      return token_groups_t<QuantFamily::kAsym>(f, l, x, xt, g0, g1, codes, scales, zeros,
                                                fake_out, sc);
    case QuantFamily::kSym:
      return token_groups_t<QuantFamily::kSym>(f, l, x, xt, g0, g1, codes, scales, zeros,
                                               fake_out, sc);
    case QuantFamily::kSym1:
      return token_groups_t<QuantFamily::kSym1>(f, l, x, xt, g0, g1, codes, scales, zeros,
                                                fake_out, sc);
    default:
      return token_groups_t<QuantFamily::kTernary>(f, l, x, xt, g0, g1, codes, scales, zeros,
                                                   fake_out, sc);
  }
}

template <QuantFamily F>
KVMIX_INLINE void token_values_t(const QuantFormat& f, const PackedLayout& l, int64_t g0,
                                 int64_t g1, const uint32_t* codes, const void* scales,
                                 const void* zeros, void* out, ElemType ot, Scratch& sc) {
  const int64_t G = l.group, W = l.words;
  const float k = codec_levels(F, f.bits);
  float* obuf = Scratch::grow(sc.out, kBlock * G);
  uint32_t* q = Scratch::grow(sc.q, kBlock * G);
  float *s = Scratch::grow(sc.s, kBlock), *z = Scratch::grow(sc.z, kBlock);
  for (int64_t gb = g0; gb < g1; gb += kBlock) {
    const int64_t n = g1 - gb < kBlock ? g1 - gb : kBlock;
    const int64_t off = gb * G, len = n * G;
    unpack_any(F, codes + gb * W, len, G, W, f.bits, q);
    load_lane_params(f, F == QuantFamily::kAsym, n, scales, zeros, gb, s, z);
    float* ob = ot == ElemType::kF32 ? static_cast<float*>(out) + off : obuf;
    for (int64_t j = 0; j < n; ++j) {
      const uint32_t* qg = q + j * G;
      float* og = ob + j * G;
      const float sj = s[j], zj = z[j];
      for (int64_t i = 0; i < G; ++i) og[i] = codec_value<F>(qg[i], sj, zj, k);
    }
    if (ot != ElemType::kF32) store_row_f32(ob, len, ot, out, off);
  }
}

KVMIX_CPU_CLONES void token_values(const QuantFormat& f, const PackedLayout& l, int64_t g0,
                                   int64_t g1, const uint32_t* codes, const void* scales,
                                   const void* zeros, void* out, ElemType ot, Scratch& sc) {
  switch (quant_family(f)) {
    case QuantFamily::kAsym:
      return token_values_t<QuantFamily::kAsym>(f, l, g0, g1, codes, scales, zeros, out, ot, sc);
    case QuantFamily::kSym:
      return token_values_t<QuantFamily::kSym>(f, l, g0, g1, codes, scales, zeros, out, ot, sc);
    case QuantFamily::kSym1:
      return token_values_t<QuantFamily::kSym1>(f, l, g0, g1, codes, scales, zeros, out, ot, sc);
    default:
      return token_values_t<QuantFamily::kTernary>(f, l, g0, g1, codes, scales, zeros, out, ot,
                                                   sc);
  }
}

}  // namespace

int64_t quantize_token(const QuantFormat& f, const PackedLayout& l, const void* x, ElemType xt,
                       uint32_t* codes, void* scales, void* zeros, void* fake_out) {
  const int64_t groups = l.groups(), per_item = kBlock * kBlocksPerItem;
  const int64_t items = (groups + per_item - 1) / per_item;
  int64_t bad = 0;
#pragma omp parallel reduction(+ : bad)
  {
    Scratch sc;
#pragma omp for schedule(static)
    for (int64_t it = 0; it < items; ++it) {
      const int64_t g0 = it * per_item;
      const int64_t g1 = g0 + per_item < groups ? g0 + per_item : groups;
      bad += token_groups(f, l, x, xt, g0, g1, codes, scales, zeros, fake_out, sc);
    }
  }
  return bad;
}

void dequantize_token(const QuantFormat& f, const PackedLayout& l, const uint32_t* codes,
                      const void* scales, const void* zeros, void* out, ElemType ot) {
  const int64_t groups = l.groups(), per_item = kBlock * kBlocksPerItem;
  const int64_t items = (groups + per_item - 1) / per_item;
#pragma omp parallel
  {
    Scratch sc;
#pragma omp for schedule(static)
    for (int64_t it = 0; it < items; ++it) {
      const int64_t g0 = it * per_item;
      const int64_t g1 = g0 + per_item < groups ? g0 + per_item : groups;
      token_values(f, l, g0, g1, codes, scales, zeros, out, ot, sc);
    }
  }
}

}  // namespace kvmix::cpu
