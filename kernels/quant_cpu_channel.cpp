// CPU kernels for per-channel groups (KIVI keys, arXiv 2402.02750 sec. 3.1: key outliers sit in
// fixed channels, so each channel gets its own scale over G consecutive tokens).
//
// One work item is one token group of one slice: the contiguous block xb [cnt, D] (cnt = G, or
// fewer for the last group). Every inner loop runs lane-wise across the D channels, so the
// statistics keep the reference's token order and the loops vectorize without reductions.
// Variants: quantize+pack, fused fake-quant (no packing), unpack+dequantize.
#include <omp.h>

#include "kernels/cpu_target.h"
#include "kernels/elem_rows.h"
#include "kernels/quant_cpu_codec.h"

namespace kvmix::cpu {

using namespace qmath;

namespace {

// Per channel: asym a = min, b = max; sym a = max|x|; sym1/ternary a = sum|x| (token order).
KVMIX_CPU_CLONES void channel_stats(QuantFamily fam, const float* xb, int64_t cnt, int64_t D,
                                    float* a, float* b, float* probe) {
  const float inf = bits_float(0x7F800000u);
  for (int64_t d = 0; d < D; ++d) {
    a[d] = fam == QuantFamily::kAsym ? inf : 0.0f;
    b[d] = -inf;
    probe[d] = 0.0f;
  }
  for (int64_t i = 0; i < cnt; ++i) {
    const float* row = xb + i * D;
    if (fam == QuantFamily::kAsym) {
      for (int64_t d = 0; d < D; ++d) {
        const float v = row[d];
        a[d] = v < a[d] ? v : a[d];
        b[d] = v > b[d] ? v : b[d];
        probe[d] = probe[d] + v * 0.0f;
      }
    } else if (fam == QuantFamily::kSym) {
      for (int64_t d = 0; d < D; ++d) {
        const float v = row[d];
        const float av = v < 0.0f ? -v : v;
        a[d] = av > a[d] ? av : a[d];
        probe[d] = probe[d] + v * 0.0f;
      }
    } else {
      for (int64_t d = 0; d < D; ++d) {
        const float v = row[d];
        a[d] = a[d] + (v < 0.0f ? -v : v);
        probe[d] = probe[d] + v * 0.0f;
      }
    }
  }
}

KVMIX_CPU_CLONES int64_t channel_params(const QuantFormat& f, QuantFamily fam, int64_t cnt,
                                       int64_t D, const float* a, const float* b,
                                       const float* probe, float* s, float* z, float* inv,
                                       void* scales, void* zeros, int64_t g0) {
  const int n = static_cast<int>(cnt);
  switch (fam) {
    case QuantFamily::kAsym:
      lane_params<QuantFamily::kAsym>(f, n, D, a, b, probe, s, z, inv);
      break;
    case QuantFamily::kSym:
      lane_params<QuantFamily::kSym>(f, n, D, a, b, probe, s, z, inv);
      break;
    case QuantFamily::kSym1:
      lane_params<QuantFamily::kSym1>(f, n, D, a, b, probe, s, z, inv);
      break;
    default:
      lane_params<QuantFamily::kTernary>(f, n, D, a, b, probe, s, z, inv);
  }
  return store_lane_params(f, fam == QuantFamily::kAsym, D, s, z, scales, zeros, g0);
}

// acc [W, D]: word w of channel d's group, built token by token.
template <QuantFamily F>
KVMIX_INLINE void channel_codes_t(const float* xb, int64_t cnt, int64_t D, int bits, float k,
                                  const float* z, const float* inv, uint32_t* acc, int64_t W) {
  if (F != QuantFamily::kTernary && 32 % bits == 0) {
    // Codes fill whole words: word w of channel d holds tokens w*C .. w*C + C - 1, so the first
    // of them initializes the word (no zeroing pass).
    const int64_t C = 32 / bits;
    for (int64_t w = 0; w < W; ++w) {
      const int64_t i0 = w * C;
      const int64_t n = cnt - i0 < C ? (cnt - i0 > 0 ? cnt - i0 : 0) : C;
      const float* rows = xb + i0 * D;
      uint32_t* a = acc + w * D;
      if (n == 0) {
        for (int64_t d = 0; d < D; ++d) a[d] = 0;
        continue;
      }
      for (int64_t d = 0; d < D; ++d) a[d] = codec_code<F>(rows[d], z[d], inv[d], k);
      for (int64_t j = 1; j < n; ++j) {
        const float* row = rows + j * D;
        const int sh = static_cast<int>(j * bits);
        for (int64_t d = 0; d < D; ++d) a[d] |= codec_code<F>(row[d], z[d], inv[d], k) << sh;
      }
    }
    return;
  }
  for (int64_t j = 0; j < W * D; ++j) acc[j] = 0;
  for (int64_t i = 0; i < cnt; ++i) {
    const float* row = xb + i * D;
    if constexpr (F == QuantFamily::kTernary) {
      uint32_t* a = acc + (i / kTritsPerWord) * D;
      const uint32_t m = pow3(i % kTritsPerWord);
      for (int64_t d = 0; d < D; ++d) a[d] += codec_code<F>(row[d], 0.0f, inv[d], 0.0f) * m;
    } else {  // 3-bit codes straddle words
      const int64_t pos = i * bits;
      const int sh = static_cast<int>(pos & 31);
      uint32_t* a = acc + (pos >> 5) * D;
      for (int64_t d = 0; d < D; ++d) a[d] |= codec_code<F>(row[d], z[d], inv[d], k) << sh;
      if (sh + bits > 32) {
        uint32_t* a2 = a + D;
        for (int64_t d = 0; d < D; ++d) a2[d] |= codec_code<F>(row[d], z[d], inv[d], k) >> (32 - sh);
      }
    }
  }
}

KVMIX_CPU_CLONES void channel_codes(QuantFamily fam, const float* xb, int64_t cnt, int64_t D,
                                    int bits, float k, const float* z, const float* inv,
                                    uint32_t* acc, int64_t W) {
  switch (fam) {
    case QuantFamily::kAsym:
      return channel_codes_t<QuantFamily::kAsym>(xb, cnt, D, bits, k, z, inv, acc, W);
    case QuantFamily::kSym:
      return channel_codes_t<QuantFamily::kSym>(xb, cnt, D, bits, k, z, inv, acc, W);
    case QuantFamily::kSym1:
      return channel_codes_t<QuantFamily::kSym1>(xb, cnt, D, bits, k, z, inv, acc, W);
    default:
      return channel_codes_t<QuantFamily::kTernary>(xb, cnt, D, bits, k, z, inv, acc, W);
  }
}

// ob [cnt, D] = value(code(xb)) without packing.
template <QuantFamily F>
KVMIX_INLINE void channel_fake_t(const float* xb, int64_t cnt, int64_t D, float k, const float* s,
                                 const float* z, const float* inv, float* ob) {
  for (int64_t i = 0; i < cnt; ++i) {
    const float* row = xb + i * D;
    float* orow = ob + i * D;
    for (int64_t d = 0; d < D; ++d)
      orow[d] = codec_value<F>(codec_code<F>(row[d], z[d], inv[d], k), s[d], z[d], k);
  }
}

KVMIX_CPU_CLONES void channel_fake(QuantFamily fam, const float* xb, int64_t cnt, int64_t D,
                                   float k, const float* s, const float* z, const float* inv,
                                   float* ob) {
  switch (fam) {
    case QuantFamily::kAsym:
      return channel_fake_t<QuantFamily::kAsym>(xb, cnt, D, k, s, z, inv, ob);
    case QuantFamily::kSym:
      return channel_fake_t<QuantFamily::kSym>(xb, cnt, D, k, s, z, inv, ob);
    case QuantFamily::kSym1:
      return channel_fake_t<QuantFamily::kSym1>(xb, cnt, D, k, s, z, inv, ob);
    default:
      return channel_fake_t<QuantFamily::kTernary>(xb, cnt, D, k, s, z, inv, ob);
  }
}

// ob [cnt, D] from acc [W, D] (the group's words, transposed so lanes run over channels).
template <QuantFamily F>
KVMIX_INLINE void channel_values_t(const uint32_t* acc, int64_t cnt, int64_t D, int bits, float k,
                                   const float* s, const float* z, float* ob) {
  const uint32_t mask = (1u << bits) - 1u;
  for (int64_t i = 0; i < cnt; ++i) {
    float* orow = ob + i * D;
    if constexpr (F == QuantFamily::kTernary) {
      const uint32_t* a = acc + (i / kTritsPerWord) * D;
      const uint32_t m = pow3(i % kTritsPerWord);
      for (int64_t d = 0; d < D; ++d) orow[d] = codec_value<F>((a[d] / m) % 3u, s[d], 0.0f, 0.0f);
    } else {
      const int64_t pos = i * bits;
      const int sh = static_cast<int>(pos & 31);
      const uint32_t* a = acc + (pos >> 5) * D;
      if (sh + bits > 32) {
        for (int64_t d = 0; d < D; ++d) {
          const uint32_t q = ((a[d] >> sh) | (a[d + D] << (32 - sh))) & mask;
          orow[d] = codec_value<F>(q, s[d], z[d], k);
        }
      } else {
        for (int64_t d = 0; d < D; ++d) orow[d] = codec_value<F>((a[d] >> sh) & mask, s[d], z[d], k);
      }
    }
  }
}

KVMIX_CPU_CLONES void channel_values(QuantFamily fam, const uint32_t* acc, int64_t cnt, int64_t D,
                                     int bits, float k, const float* s, const float* z, float* ob) {
  switch (fam) {
    case QuantFamily::kAsym:
      return channel_values_t<QuantFamily::kAsym>(acc, cnt, D, bits, k, s, z, ob);
    case QuantFamily::kSym:
      return channel_values_t<QuantFamily::kSym>(acc, cnt, D, bits, k, s, z, ob);
    case QuantFamily::kSym1:
      return channel_values_t<QuantFamily::kSym1>(acc, cnt, D, bits, k, s, z, ob);
    default:
      return channel_values_t<QuantFamily::kTernary>(acc, cnt, D, bits, k, s, z, ob);
  }
}

// The packed layout stores a channel's W words together ([D, W]); the kernels build them as W
// rows over channels ([W, D]). Transposes with W a constant vectorize (interleaving shuffles).
template <int W>
KVMIX_INLINE void store_words_t(const uint32_t* __restrict acc, uint32_t* __restrict out,
                                int64_t D) {
  for (int64_t d = 0; d < D; ++d)
    for (int w = 0; w < W; ++w) out[d * W + w] = acc[w * D + d];
}

template <int W>
KVMIX_INLINE void load_words_t(const uint32_t* __restrict in, uint32_t* __restrict acc,
                               int64_t D) {
  for (int64_t d = 0; d < D; ++d)
    for (int w = 0; w < W; ++w) acc[w * D + d] = in[d * W + w];
}

KVMIX_CPU_CLONES void channel_store_words(const uint32_t* acc, uint32_t* out, int64_t D,
                                          int64_t W) {
  switch (W) {
    case 1:
      return store_words_t<1>(acc, out, D);
    case 2:
      return store_words_t<2>(acc, out, D);
    case 4:
      return store_words_t<4>(acc, out, D);
    case 8:
      return store_words_t<8>(acc, out, D);
    default:
      for (int64_t d = 0; d < D; ++d)
        for (int64_t w = 0; w < W; ++w) out[d * W + w] = acc[w * D + d];
  }
}

KVMIX_CPU_CLONES void channel_load_words(const uint32_t* in, uint32_t* acc, int64_t D,
                                         int64_t W) {
  switch (W) {
    case 1:
      return load_words_t<1>(in, acc, D);
    case 2:
      return load_words_t<2>(in, acc, D);
    case 4:
      return load_words_t<4>(in, acc, D);
    case 8:
      return load_words_t<8>(in, acc, D);
    default:
      for (int64_t d = 0; d < D; ++d)
        for (int64_t w = 0; w < W; ++w) acc[w * D + d] = in[d * W + w];
  }
}

}  // namespace

int64_t quantize_channel(const QuantFormat& f, const PackedLayout& l, const void* x, ElemType xt,
                         uint32_t* codes, void* scales, void* zeros, void* fake_out) {
  const QuantFamily fam = quant_family(f);
  const float k = codec_levels(fam, f.bits);
  const int64_t D = l.channels, W = l.words, items = l.lead * l.rows;
  int64_t bad = 0;
#pragma omp parallel reduction(+ : bad)
  {
    Scratch sc;
    float* a = Scratch::grow(sc.a, D);
    float* b = Scratch::grow(sc.b, D);
    float* probe = Scratch::grow(sc.probe, D);
    float* s = Scratch::grow(sc.s, D);
    float* z = Scratch::grow(sc.z, D);
    float* inv = Scratch::grow(sc.inv, D);
#pragma omp for schedule(static)
    for (int64_t item = 0; item < items; ++item) {
      const int64_t n = item / l.rows, r = item % l.rows;
      const int64_t t0 = r * l.group;
      const int64_t cnt = l.tokens - t0 < l.group ? l.tokens - t0 : l.group;
      const int64_t off = (n * l.tokens + t0) * D;
      const float* xb = row_as_f32(x, xt, off, cnt * D, Scratch::grow(sc.x, cnt * D));
      channel_stats(fam, xb, cnt, D, a, b, probe);
      const int64_t g0 = item * D;  // groups (n, r, 0..D)
      bad += channel_params(f, fam, cnt, D, a, b, probe, s, z, inv, scales, zeros, g0);
      if (fake_out) {
        float* ob = xt == ElemType::kF32 ? static_cast<float*>(fake_out) + off
                                         : Scratch::grow(sc.out, cnt * D);
        channel_fake(fam, xb, cnt, D, k, s, z, inv, ob);
        if (xt != ElemType::kF32) store_row_f32(ob, cnt * D, xt, fake_out, off);
      } else {
        uint32_t* acc = Scratch::grow(sc.words, W * D);
        channel_codes(fam, xb, cnt, D, f.bits, k, z, inv, acc, W);
        channel_store_words(acc, codes + g0 * W, D, W);
      }
    }
  }
  return bad;
}

void dequantize_channel(const QuantFormat& f, const PackedLayout& l, const uint32_t* codes,
                        const void* scales, const void* zeros, void* out, ElemType ot) {
  const QuantFamily fam = quant_family(f);
  const float k = codec_levels(fam, f.bits);
  const int64_t D = l.channels, W = l.words, items = l.lead * l.rows;
#pragma omp parallel
  {
    Scratch sc;
    float* s = Scratch::grow(sc.s, D);
    float* z = Scratch::grow(sc.z, D);
    uint32_t* acc = Scratch::grow(sc.words, W * D);
#pragma omp for schedule(static)
    for (int64_t item = 0; item < items; ++item) {
      const int64_t n = item / l.rows, r = item % l.rows;
      const int64_t t0 = r * l.group;
      const int64_t cnt = l.tokens - t0 < l.group ? l.tokens - t0 : l.group;
      const int64_t off = (n * l.tokens + t0) * D;
      const int64_t g0 = item * D;
      load_lane_params(f, fam == QuantFamily::kAsym, D, scales, zeros, g0, s, z);
      channel_load_words(codes + g0 * W, acc, D, W);
      float* ob = ot == ElemType::kF32 ? static_cast<float*>(out) + off
                                       : Scratch::grow(sc.out, cnt * D);
      channel_values(fam, acc, cnt, D, f.bits, k, s, z, ob);
      if (ot != ElemType::kF32) store_row_f32(ob, cnt * D, ot, out, off);
    }
  }
}

}  // namespace kvmix::cpu
