// AVX-512 quantize+pack, fused fake-quant and unpack+dequantize for the formats the KV cache
// uses most: uniform asymmetric or symmetric (b >= 2), 1, 2, 4 or 8 bits, groups that fill whole
// words. Written with intrinsics because GCC 12 compiles generic vectors poorly inside
// target-attributed functions (kernels/cpu_target.h); every other format, and CPUs without
// AVX-512, use the auto-vectorized kernels of quant_cpu_channel.cpp / quant_cpu_token.cpp.
//
// Bit-exact with the reference: codes are ((x - z) * inv + c0) clamped to [0, top] and truncated,
// values q*s + z or (q - half)*s, each a separately rounded IEEE operation exactly as
// qmath::Asym / qmath::Sym write them (no FMA); scales come from the shared lane_params.
// Non-finite input is found with vfpclassps and poisons the group's scale like the reference's
// NaN probe.
//
// The format family, bit width, element type and output kind are template parameters, so every
// inner loop is straight-line code: with them as runtime values GCC kept a branch per element in
// the loops, and perf put a third of the per-channel quantizer's time on those jumps.
#if defined(__x86_64__)
// GCC 12 warns about its own _mm512_undefined_* idiom inside avx512fintrin.h (a false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "kernels/quant_cpu_codec.h"
#include "kernels/quant_kernels.h"

#define KVMIX_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,f16c,fma")))

namespace kvmix::cpu {

using namespace qmath;

namespace {

constexpr int kL = 16;                // fp32 lanes
constexpr int64_t kTokenBlock = 64;   // per-token groups per parameter batch (4 x 16 lanes)
constexpr int64_t kTokenItem = 256;   // per-token groups per OpenMP work item
// Work is handed out dynamically, in chunks of 8 per-token items or 32 per-channel token groups
// (256-512 KB of fp32 input): small enough that a thread the OS preempts on a shared machine does
// not hold back the whole call (a 67 MB tensor is over a hundred chunks), large enough that the
// next tile a thread prefetches is nearly always its own. Chunks of 64-128 KB measured 10-20%
// slower.

// ---- loads and stores of 16 elements in the model dtype --------------------------------------------

template <ElemType T>
constexpr int64_t kElemBytes = T == ElemType::kF32 ? 4 : 2;

template <ElemType T>
KVMIX_AVX512 inline __m512 load16(const void* p, int64_t i) {
  if constexpr (T == ElemType::kF32) return _mm512_loadu_ps(static_cast<const float*>(p) + i);
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(p) + i));
  if constexpr (T == ElemType::kF16) return _mm512_cvtph_ps(h);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

// Round to nearest even as qmath::f32_to_bf16 / f32_to_f16 (F16C rounds identically).
// kStream: a non-temporal store (the caller checked alignment: 64 bytes for fp32, 32 for 16-bit),
// for outputs too large to stay in cache, where an ordinary store first reads the line it fills.
template <ElemType T, bool kStream = false>
KVMIX_AVX512 inline void store16(void* p, int64_t i, __m512 v) {
  if constexpr (T == ElemType::kF32) {
    float* dst = static_cast<float*>(p) + i;
    if constexpr (kStream) return _mm512_stream_ps(dst, v);
    return _mm512_storeu_ps(dst, v);
  }
  __m256i h;
  if constexpr (T == ElemType::kF16) {
    h = _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  } else {  // the high half of u + 0x7FFF + lsb, gathered by one word permute; NaN -> 0x7FC0
    const __m512i u = _mm512_castps_si512(v);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7FFF)), lsb);
    const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    r = _mm512_mask_mov_epi32(r, nan, _mm512_set1_epi32(0x7FC00000));
    const __m512i odd = _mm512_setr_epi32(0x30001, 0x70005, 0xB0009, 0xF000D, 0x130011, 0x170015,
                                          0x1B0019, 0x1F001D, 0, 0, 0, 0, 0, 0, 0, 0);
    h = _mm512_castsi512_si256(_mm512_permutexvar_epi16(odd, r));
  }
  __m256i* dst = reinterpret_cast<__m256i*>(static_cast<uint16_t*>(p) + i);
  if constexpr (kStream) return _mm256_stream_si256(dst, h);
  _mm256_storeu_si256(dst, h);
}

bool stream_output(const void* out, ElemType t, int64_t elems) {
  const int64_t size = elem_bytes(t);
  const auto align = static_cast<uintptr_t>(size * kL);
  return elems * size >= kCpuStreamStoreBytes && reinterpret_cast<uintptr_t>(out) % align == 0;
}

// A software prefetch of element e + ahead of x, clamped to the input's last element (`end`
// elements). The quantizers alternate a streaming statistics pass with a compute pass over a
// tile already in cache, and the hardware prefetchers idle through the compute pass; the compute
// passes therefore fetch the next tile, one line per vector they process.
template <ElemType T>
KVMIX_AVX512 inline void prefetch_ahead(const void* x, int64_t e, int64_t ahead, int64_t end) {
  const int64_t p = std::min(e + ahead, end - 1);
  _mm_prefetch(static_cast<const char*>(x) + p * kElemBytes<T>, _MM_HINT_T0);
}

// Lanes holding NaN or +-inf (vfpclassps: QNaN 0x01, +inf 0x08, -inf 0x10, SNaN 0x80).
KVMIX_AVX512 inline __mmask16 nonfinite(__m512 v) { return _mm512_fpclass_ps_mask(v, 0x99); }

// ---- codes and values ----------------------------------------------------------------------------------

// The quantizer of one family: code = floor((x - z)*inv + c0) (sym: floor(x*inv + c0), its zero
// is 0), value = q*s + z (asym) or (q - off)*s (sym, off = 2^(b-1) - 1).
struct Codec {
  float c0, off;
};

Codec codec_of(const QuantFormat& f) {
  if (f.symmetric) {
    const float half = Sym::half_levels(f.bits);
    return {half + 0.5f, half};
  }
  return {0.5f, 0.0f};
}

// The reference clamps v to [0, top] before truncating; with parameters computed from the group's
// own statistics neither clamp can bind, so they are left out here: z <= min gives x - z >= 0 and
// v >= 1/2 (sym: s >= max|x|/half, so x/s >= -half*(1 + 2 eps) and v > 0), and s >= (max - z)/L
// gives (x - z)/s <= L*(1 + 2 eps), so v < L + 1 truncates to at most L (sym: 2*half). Only
// groups with NaN or inf break these bounds, and those are refused (their codes are unspecified).
template <bool kSym>
KVMIX_AVX512 inline __m512i code16(__m512 x, __m512 z, __m512 inv, __m512 c0) {
  if constexpr (kSym) return _mm512_cvttps_epi32(_mm512_add_ps(_mm512_mul_ps(x, inv), c0));
  return _mm512_cvttps_epi32(_mm512_add_ps(_mm512_mul_ps(_mm512_sub_ps(x, z), inv), c0));
}

template <bool kSym>
KVMIX_AVX512 inline __m512 value16(__m512i q, __m512 s, __m512 z, __m512 off) {
  const __m512 qf = _mm512_cvtepi32_ps(q);
  if constexpr (kSym) return _mm512_mul_ps(_mm512_sub_ps(qf, off), s);
  return _mm512_add_ps(_mm512_mul_ps(qf, s), z);
}

template <QuantFamily F>
constexpr bool kSymOf = F == QuantFamily::kSym;

// 16 codes (B bits each, element order) into their 16*B packed bits at `out` (B = 1: 2 bytes).
template <int bits>
KVMIX_AVX512 inline void pack16(__m512i q, uint8_t* out) {
  if constexpr (bits == 8) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm512_cvtepi32_epi8(q));
  } else if constexpr (bits == 4) {  // byte k = q[2k] | q[2k+1] << 4: the low byte of qword k
    const __m512i t = _mm512_or_si512(q, _mm512_srli_epi64(q, 28));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out), _mm512_cvtepi64_epi8(t));
  } else if constexpr (bits == 2) {  // byte k = q[4k] | q[4k+1] << 2 | q[4k+2] << 4 | q[4k+3] << 6
    const __m128i b = _mm512_cvtepi32_epi8(q);
    __m128i t = _mm_or_si128(b, _mm_srli_epi32(b, 6));
    t = _mm_or_si128(t, _mm_srli_epi32(b, 12));
    t = _mm_or_si128(t, _mm_srli_epi32(b, 18));
    const uint32_t w = static_cast<uint32_t>(_mm_cvtsi128_si32(_mm_cvtepi32_epi8(t)));
    std::memcpy(out, &w, 4);
  } else {
    const uint16_t m = static_cast<uint16_t>(_mm512_test_epi32_mask(q, q));
    std::memcpy(out, &m, 2);
  }
}

// The 16 codes of elements e0 .. e0 + 15 (e0 a multiple of 16) of a group's words, element order.
template <int bits>
KVMIX_AVX512 inline __m512i unpack16(const uint32_t* w, int64_t e0) {
  const uint8_t* bytes = reinterpret_cast<const uint8_t*>(w) + e0 * bits / 8;
  if constexpr (bits == 8) return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes)));
  if constexpr (bits == 4) {  // dword 0 to lanes 0-7, dword 1 to lanes 8-15, nibble i of each
    const __m512i b = _mm512_castsi128_si512(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(bytes)));
    const __m512i w = _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1), b);
    const __m512i sh = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28);
    return _mm512_and_si512(_mm512_srlv_epi32(w, sh), _mm512_set1_epi32(0x0F));
  }
  uint32_t word = 0;
  std::memcpy(&word, bytes, bits == 2 ? 4 : 2);
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i sh = bits == 2 ? _mm512_add_epi32(iota, iota) : iota;  // bits 1 or 2
  return _mm512_and_si512(_mm512_srlv_epi32(_mm512_set1_epi32(static_cast<int>(word)), sh),
                          _mm512_set1_epi32((1 << bits) - 1));
}

// ---- per-token: groups are G consecutive elements of the flattened tensor -----------------------------

// r[j] = op over the 16 lanes of v[j], for 16 vectors at once: four rounds of lane shuffles halve
// the lanes per vector (46 shuffles and ops instead of 16 horizontal reductions). Min, max and
// or are exact in any order.
enum class Reduce { kMin, kMax, kOr };

template <Reduce R>
KVMIX_AVX512 inline __m512 op16(__m512 a, __m512 b) {
  if constexpr (R == Reduce::kMax) return _mm512_max_ps(a, b);
  if constexpr (R == Reduce::kMin) return _mm512_min_ps(a, b);
  return _mm512_or_ps(a, b);  // code bits, carried in float registers
}

template <Reduce R>
KVMIX_AVX512 inline __m512 transpose_reduce(const __m512* v) {
  __m512 a[8], b[4], c[2];
  for (int k = 0; k < 8; ++k)  // 128-bit lanes 0-1 of v[2k] and v[2k+1] against lanes 2-3
    a[k] = op16<R>(_mm512_shuffle_f32x4(v[2 * k], v[2 * k + 1], 0x44),
                   _mm512_shuffle_f32x4(v[2 * k], v[2 * k + 1], 0xEE));
  for (int k = 0; k < 4; ++k)  // a[k] lanes (0,1 | 2,3) hold groups 2k, 2k+1: lanes 0,2 vs 1,3
    b[k] = op16<R>(_mm512_shuffle_f32x4(a[2 * k], a[2 * k + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                   _mm512_shuffle_f32x4(a[2 * k], a[2 * k + 1], _MM_SHUFFLE(3, 1, 3, 1)));
  for (int k = 0; k < 2; ++k)  // b[k] lane i holds group 4k + i: pairs within lanes
    c[k] = op16<R>(_mm512_shuffle_ps(b[2 * k], b[2 * k + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                   _mm512_shuffle_ps(b[2 * k], b[2 * k + 1], _MM_SHUFFLE(3, 2, 3, 2)));
  // c[0] lane i: groups i, 4+i (2 lanes each); c[1]: 8+i, 12+i
  const __m512 r = op16<R>(_mm512_shuffle_ps(c[0], c[1], _MM_SHUFFLE(2, 0, 2, 0)),
                           _mm512_shuffle_ps(c[0], c[1], _MM_SHUFFLE(3, 1, 3, 1)));
  // r lane i element k is group i + 4k: back to group order
  return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), r);
}

// 2-bit codes of groups gb .. gb + n (parameters z, inv indexed from gb) packed 16 words at a
// time: each vector's codes shifted to their bit positions, then 16 vectors OR-reduced to one
// vector of words (a word is 16 codes, so vector k of the run is word k): about 4 operations per
// 16 codes where pack16<2> takes 9. Returns the first group left for pack16 (the groups of a run
// shorter than 16 words).
template <bool kSym, ElemType T>
KVMIX_AVX512 inline int64_t token_pack2_words(const void* x, int64_t G, int64_t W, int64_t gb,
                                              int64_t n, const float* z, const float* inv,
                                              __m512 c0, uint32_t* codes, int64_t ahead,
                                              int64_t end) {
  if (W > kL || kL % W != 0) return 0;
  const int64_t groups_per_run = kL / W;  // W = G/16 divides 16 for G in {16, 32, 64, 128, 256}
  const __m512i sh = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  int64_t j = 0;
  for (; j + groups_per_run <= n; j += groups_per_run) {
    __m512 v[kL];
    for (int64_t g = j, k = 0; g < j + groups_per_run; ++g) {
      const __m512 zv = _mm512_set1_ps(z[g]), iv = _mm512_set1_ps(inv[g]);
      for (int64_t h = 0; h < W; ++h, ++k) {
        const int64_t e = (gb + g) * G + h * kL;
        prefetch_ahead<T>(x, e, ahead, end);
        v[k] = _mm512_castsi512_ps(_mm512_sllv_epi32(code16<kSym>(load16<T>(x, e), zv, iv, c0), sh));
      }
    }
    _mm512_storeu_ps(reinterpret_cast<float*>(codes + (gb + j) * W), transpose_reduce<Reduce::kOr>(v));
  }
  return j;
}

template <QuantFamily F, int B, ElemType T, bool kFake>
KVMIX_AVX512 int64_t token_quantize_range(const QuantFormat& f, const PackedLayout& l, const void* x,
                                          int64_t g0, int64_t g1, uint32_t* codes, void* scales,
                                          void* zeros, void* fake_out) {
  constexpr bool kSym = kSymOf<F>;
  const int64_t G = l.group, W = l.words, ahead = kTokenBlock * G, end = l.elements();
  const Codec cd = codec_of(f);
  const __m512 c0 = _mm512_set1_ps(cd.c0), off = _mm512_set1_ps(cd.off);
  const float inf = bits_float(0x7F800000u);
  alignas(64) float a[kTokenBlock], b[kTokenBlock], probe[kTokenBlock], s[kTokenBlock],
      z[kTokenBlock], inv[kTokenBlock];
  __m512 vmn[kTokenBlock], vmx[kTokenBlock];
  int64_t bad = 0;
  for (int64_t gb = g0; gb < g1; gb += kTokenBlock) {
    const int64_t n = g1 - gb < kTokenBlock ? g1 - gb : kTokenBlock;
    for (int64_t j = 0; j < kTokenBlock; ++j) {
      const int64_t e = (gb + (j < n ? j : 0)) * G;  // a short last block repeats its first group
      __m512 mn = _mm512_set1_ps(inf), mx = _mm512_set1_ps(-inf);
      __mmask16 nf = 0;
      for (int64_t i = 0; i < G; i += kL) {
        const __m512 v = load16<T>(x, e + i);
        nf = _kor_mask16(nf, nonfinite(v));
        if constexpr (F == QuantFamily::kAsym) {
          mn = _mm512_min_ps(mn, v);
          mx = _mm512_max_ps(mx, v);
        } else {
          mx = _mm512_max_ps(mx, _mm512_abs_ps(v));
        }
      }
      vmn[j] = mn;
      vmx[j] = mx;
      probe[j] = _ktestz_mask16_u8(nf, nf) ? 0.0f : bits_float(kNanBits);
    }
    for (int64_t q0 = 0; q0 < kTokenBlock; q0 += kL) {
      const __m512 rmx = transpose_reduce<Reduce::kMax>(vmx + q0);
      _mm512_store_ps(a + q0, F == QuantFamily::kAsym ? transpose_reduce<Reduce::kMin>(vmn + q0) : rmx);
      _mm512_store_ps(b + q0, rmx);
    }
    lane_params<F>(f, static_cast<int>(G), kTokenBlock, a, b, probe, s, z, inv);
    bad += store_lane_params(f, F == QuantFamily::kAsym && !kFake, n, s, z,
                             kFake ? nullptr : scales, kFake ? nullptr : zeros, gb);
    int64_t j0 = 0;
    if constexpr (B == 2 && !kFake)  // one word per 16 codes: 16 vectors make 16 consecutive words
      j0 = token_pack2_words<kSym, T>(x, G, W, gb, n, z, inv, c0, codes, ahead, end);
    for (int64_t j = j0; j < n; ++j) {
      const int64_t e = (gb + j) * G;
      const __m512 zv = _mm512_set1_ps(z[j]), iv = _mm512_set1_ps(inv[j]);
      for (int64_t i = 0; i < G; i += kL) {
        prefetch_ahead<T>(x, e + i, ahead, end);
        const __m512i q = code16<kSym>(load16<T>(x, e + i), zv, iv, c0);
        if constexpr (kFake) {
          store16<T>(fake_out, e + i, value16<kSym>(q, _mm512_set1_ps(s[j]), zv, off));
        } else {
          pack16<B>(q, reinterpret_cast<uint8_t*>(codes + (gb + j) * W) + i * B / 8);
        }
      }
    }
  }
  return bad;
}

template <int B, bool kSym, ElemType T, bool kStream>
KVMIX_AVX512 void token_dequantize_range(const QuantFormat& f, const PackedLayout& l,
                                         const uint32_t* codes, const void* scales,
                                         const void* zeros, void* out, int64_t g0, int64_t g1) {
  const int64_t G = l.group, W = l.words;
  const __m512 off = _mm512_set1_ps(codec_of(f).off);
  alignas(64) float s[kTokenBlock], z[kTokenBlock];
  for (int64_t gb = g0; gb < g1; gb += kTokenBlock) {
    const int64_t n = g1 - gb < kTokenBlock ? g1 - gb : kTokenBlock;
    load_lane_params(f, !kSym, n, scales, zeros, gb, s, z);
    for (int64_t j = 0; j < n; ++j) {
      const __m512 sv = _mm512_set1_ps(s[j]), zv = _mm512_set1_ps(z[j]);
      const uint32_t* w = codes + (gb + j) * W;
      for (int64_t i = 0; i < G; i += kL)
        store16<T, kStream>(out, (gb + j) * G + i, value16<kSym>(unpack16<B>(w, i), sv, zv, off));
    }
  }
}

// ---- per-channel: lanes run over 16 channels, a group is G tokens of one channel -------------------------

constexpr int kTile = 8;  // channel chunks of 16 whose statistics stay in registers

// The layout stores a channel's W words together ([D, W]); the kernels work on W rows over
// channels ([W, D]). A constant W lets the compiler vectorize the transposes.
template <int W>
KVMIX_AVX512 inline void words_to_layout_t(const uint32_t* __restrict acc, uint32_t* __restrict out, int64_t D) {
  for (int64_t d = 0; d < D; ++d)
    for (int w = 0; w < W; ++w) out[d * W + w] = acc[w * D + d];
}
template <int W>
KVMIX_AVX512 inline void words_from_layout_t(const uint32_t* __restrict in, uint32_t* __restrict acc, int64_t D) {
  for (int64_t d = 0; d < D; ++d)
    for (int w = 0; w < W; ++w) acc[w * D + d] = in[d * W + w];
}
KVMIX_AVX512 inline void words_to_layout(const uint32_t* acc, uint32_t* out, int64_t D, int64_t W) {
  switch (W) {
    case 1: return words_to_layout_t<1>(acc, out, D);
    case 2: return words_to_layout_t<2>(acc, out, D);
    case 4: return words_to_layout_t<4>(acc, out, D);
    case 8: return words_to_layout_t<8>(acc, out, D);
    default:
      for (int64_t d = 0; d < D; ++d)
        for (int64_t w = 0; w < W; ++w) out[d * W + w] = acc[w * D + d];
  }
}
KVMIX_AVX512 inline void words_from_layout(const uint32_t* in, uint32_t* acc, int64_t D, int64_t W) {
  switch (W) {
    case 1: return words_from_layout_t<1>(in, acc, D);
    case 2: return words_from_layout_t<2>(in, acc, D);
    case 4: return words_from_layout_t<4>(in, acc, D);
    case 8: return words_from_layout_t<8>(in, acc, D);
    default:
      for (int64_t d = 0; d < D; ++d)
        for (int64_t w = 0; w < W; ++w) acc[w * D + d] = in[d * W + w];
  }
}

// Statistics of NC*16 channels over cnt rows of stride D, row by row (sequential reads, NC
// independent min/max chains per row).
template <QuantFamily F, int NC, ElemType T>
KVMIX_AVX512 inline void channel_stats(const void* x, int64_t off, int64_t cnt, int64_t D, float* a,
                                       float* b, float* probe) {
  const float inf = bits_float(0x7F800000u);
  __m512 mn[NC], mx[NC];
  __mmask16 nf[NC];
  for (int c = 0; c < NC; ++c) {
    mn[c] = _mm512_set1_ps(inf);
    mx[c] = _mm512_set1_ps(-inf);
    nf[c] = 0;
  }
  for (int64_t i = 0; i < cnt; ++i) {
    for (int c = 0; c < NC; ++c) {
      const __m512 v = load16<T>(x, off + i * D + c * kL);
      nf[c] = _kor_mask16(nf[c], nonfinite(v));
      if constexpr (F == QuantFamily::kAsym) {
        mn[c] = _mm512_min_ps(mn[c], v);
        mx[c] = _mm512_max_ps(mx[c], v);
      } else {
        mx[c] = _mm512_max_ps(mx[c], _mm512_abs_ps(v));
      }
    }
  }
  for (int c = 0; c < NC; ++c) {
    _mm512_storeu_ps(a + c * kL, F == QuantFamily::kAsym ? mn[c] : mx[c]);
    _mm512_storeu_ps(b + c * kL, mx[c]);
    _mm512_storeu_ps(probe + c * kL, _mm512_mask_mov_ps(_mm512_setzero_ps(), nf[c], _mm512_set1_ps(bits_float(kNanBits))));
  }
}

// One token group [cnt, D] of slice n: statistics down the tokens, parameters per channel, then
// word w of every channel built in a register from its 32/B tokens.
template <QuantFamily F, int B, ElemType T, bool kFake>
KVMIX_AVX512 int64_t channel_quantize_item(const QuantFormat& f, const PackedLayout& l,
                                           const void* x, int64_t off, int64_t cnt, int64_t g0,
                                           uint32_t* codes, void* scales, void* zeros,
                                           void* fake_out, Scratch& sc) {
  constexpr bool kSym = kSymOf<F>;
  constexpr int64_t C = 32 / B;
  const int64_t D = l.channels, W = l.words, end = l.elements();
  const Codec cd = codec_of(f);
  const __m512 c0 = _mm512_set1_ps(cd.c0), offv = _mm512_set1_ps(cd.off);
  float *a = Scratch::grow(sc.a, D), *b = Scratch::grow(sc.b, D), *probe = Scratch::grow(sc.probe, D);
  float *s = Scratch::grow(sc.s, D), *z = Scratch::grow(sc.z, D), *inv = Scratch::grow(sc.inv, D);
  for (int64_t d0 = 0; d0 < D; d0 += kTile * kL) {
    const int64_t nc = (D - d0) / kL < kTile ? (D - d0) / kL : kTile;
    switch (nc) {
      case 8: channel_stats<F, 8, T>(x, off + d0, cnt, D, a + d0, b + d0, probe + d0); break;
      case 7: channel_stats<F, 7, T>(x, off + d0, cnt, D, a + d0, b + d0, probe + d0); break;
      case 6: channel_stats<F, 6, T>(x, off + d0, cnt, D, a + d0, b + d0, probe + d0); break;
      case 5: channel_stats<F, 5, T>(x, off + d0, cnt, D, a + d0, b + d0, probe + d0); break;
      case 4: channel_stats<F, 4, T>(x, off + d0, cnt, D, a + d0, b + d0, probe + d0); break;
      case 3: channel_stats<F, 3, T>(x, off + d0, cnt, D, a + d0, b + d0, probe + d0); break;
      case 2: channel_stats<F, 2, T>(x, off + d0, cnt, D, a + d0, b + d0, probe + d0); break;
      default: channel_stats<F, 1, T>(x, off + d0, cnt, D, a + d0, b + d0, probe + d0);
    }
  }
  lane_params<F>(f, static_cast<int>(cnt), D, a, b, probe, s, z, inv);
  const int64_t bad = store_lane_params(f, F == QuantFamily::kAsym && !kFake, D, s, z,
                                        kFake ? nullptr : scales, kFake ? nullptr : zeros, g0);
  uint32_t* acc = kFake ? nullptr : Scratch::grow(sc.words, W * D);  // [W, D]
  // The next token group's tile (contiguous after this one), spread over the D/16 chunks below.
  const char* pf = static_cast<const char*>(x) + (off + cnt * D) * kElemBytes<T>;
  const char* pf_end = static_cast<const char*>(x) + std::min(end, off + 2 * cnt * D) * kElemBytes<T>;
  const int64_t pf_lines = (cnt * D * kElemBytes<T> / 64 + D / kL - 1) / (D / kL);
  for (int64_t d = 0; d < D; d += kL) {
    for (int64_t k = 0; k < pf_lines && pf < pf_end; ++k, pf += 64) _mm_prefetch(pf, _MM_HINT_T0);
    const __m512 zv = _mm512_loadu_ps(z + d), iv = _mm512_loadu_ps(inv + d);
    for (int64_t w = 0; w < W; ++w) {
      const int64_t t0 = w * C;
      if constexpr (kFake) {
        const __m512 sv = _mm512_loadu_ps(s + d);
        for (int64_t t = t0; t < t0 + C && t < cnt; ++t) {
          const int64_t e = off + t * D + d;
          store16<T>(fake_out, e, value16<kSym>(code16<kSym>(load16<T>(x, e), zv, iv, c0), sv, zv, offv));
        }
      } else {
        __m512i word = _mm512_setzero_si512();
        if (t0 + C <= cnt) {  // a whole word: the shifts become immediates
#pragma GCC unroll 32
          for (int64_t j = 0; j < C; ++j) {
            const __m512i q = code16<kSym>(load16<T>(x, off + (t0 + j) * D + d), zv, iv, c0);
            word = _mm512_or_si512(word, _mm512_slli_epi32(q, static_cast<unsigned>(j * B)));
          }
        } else {
          for (int64_t j = 0; t0 + j < cnt; ++j) {
            const __m512i q = code16<kSym>(load16<T>(x, off + (t0 + j) * D + d), zv, iv, c0);
            word = _mm512_or_si512(word, _mm512_slli_epi32(q, static_cast<unsigned>(j * B)));
          }
        }
        _mm512_storeu_si512(acc + w * D + d, word);
      }
    }
  }
  if constexpr (!kFake) words_to_layout(acc, codes + g0 * W, D, W);
  return bad;
}

template <int B, bool kSym, ElemType T, bool kStream>
KVMIX_AVX512 void channel_dequantize_item(const QuantFormat& f, const PackedLayout& l,
                                          const uint32_t* codes, const void* scales,
                                          const void* zeros, void* out, int64_t off, int64_t cnt,
                                          int64_t g0, Scratch& sc) {
  const int64_t D = l.channels, W = l.words;
  const __m512 offv = _mm512_set1_ps(codec_of(f).off);
  float *s = Scratch::grow(sc.s, D), *z = Scratch::grow(sc.z, D);
  load_lane_params(f, !kSym, D, scales, zeros, g0, s, z);
  uint32_t* acc = Scratch::grow(sc.words, W * D);  // [W, D]
  words_from_layout(codes + g0 * W, acc, D, W);
  const __m512i mask = _mm512_set1_epi32((1 << B) - 1);
  for (int64_t i = 0; i < cnt; ++i) {
    const int64_t pos = i * B;
    const uint32_t* row = acc + (pos >> 5) * D;
    const unsigned sh = static_cast<unsigned>(pos & 31);
    for (int64_t d = 0; d < D; d += kL) {
      const __m512i q = _mm512_and_si512(_mm512_srli_epi32(_mm512_loadu_si512(row + d), sh), mask);
      store16<T, kStream>(out, off + i * D + d,
                          value16<kSym>(q, _mm512_loadu_ps(s + d), _mm512_loadu_ps(z + d), offv));
    }
  }
}

template <QuantFamily F, int B, ElemType T, bool kFake>
int64_t quantize_tt(const QuantFormat& f, const PackedLayout& l, const void* x, uint32_t* codes,
                    void* scales, void* zeros, void* fake_out) {
  int64_t bad = 0;
  if (f.axis == QuantAxis::kPerToken) {
    const int64_t groups = l.groups(), items = (groups + kTokenItem - 1) / kTokenItem;
#pragma omp parallel for schedule(dynamic, 8) reduction(+ : bad)
    for (int64_t it = 0; it < items; ++it) {
      const int64_t g0 = it * kTokenItem, g1 = g0 + kTokenItem < groups ? g0 + kTokenItem : groups;
      bad += token_quantize_range<F, B, T, kFake>(f, l, x, g0, g1, codes, scales, zeros, fake_out);
    }
    return bad;
  }
  const int64_t items = l.lead * l.rows;
#pragma omp parallel reduction(+ : bad)
  {
    Scratch sc;
#pragma omp for schedule(dynamic, 32)
    for (int64_t item = 0; item < items; ++item) {
      const int64_t n = item / l.rows, r = item % l.rows, t0 = r * l.group;
      const int64_t cnt = l.tokens - t0 < l.group ? l.tokens - t0 : l.group;
      bad += channel_quantize_item<F, B, T, kFake>(f, l, x, (n * l.tokens + t0) * l.channels, cnt,
                                                   item * l.channels, codes, scales, zeros, fake_out, sc);
    }
  }
  return bad;
}

template <QuantFamily F, int B>
int64_t quantize_t(const QuantFormat& f, const PackedLayout& l, const void* x, ElemType xt,
                   uint32_t* codes, void* scales, void* zeros, void* fake_out) {
  constexpr ElemType k32 = ElemType::kF32, kB16 = ElemType::kBF16, kF16 = ElemType::kF16;
  if (fake_out) {
    if (xt == k32) return quantize_tt<F, B, k32, true>(f, l, x, codes, scales, zeros, fake_out);
    if (xt == kB16) return quantize_tt<F, B, kB16, true>(f, l, x, codes, scales, zeros, fake_out);
    return quantize_tt<F, B, kF16, true>(f, l, x, codes, scales, zeros, fake_out);
  }
  if (xt == k32) return quantize_tt<F, B, k32, false>(f, l, x, codes, scales, zeros, fake_out);
  if (xt == kB16) return quantize_tt<F, B, kB16, false>(f, l, x, codes, scales, zeros, fake_out);
  return quantize_tt<F, B, kF16, false>(f, l, x, codes, scales, zeros, fake_out);
}

}  // namespace

bool avx512_supports(const QuantFormat& f, const PackedLayout& l) {
  if (f.kind != QuantKind::kUniform || (f.symmetric && f.bits == 1)) return false;
  if (f.bits != 1 && f.bits != 2 && f.bits != 4 && f.bits != 8) return false;
  if (f.axis == QuantAxis::kPerToken) return l.group % 32 == 0 || (l.group % 16 == 0 && f.bits >= 2);
  return l.channels % kL == 0;
}

int64_t quantize_avx512(const QuantFormat& f, const PackedLayout& l, const void* x, ElemType xt,
                        uint32_t* codes, void* scales, void* zeros, void* fake_out) {
  constexpr QuantFamily kA = QuantFamily::kAsym, kS = QuantFamily::kSym;
  switch (f.bits * 2 + (f.symmetric ? 1 : 0)) {
    case 2: return quantize_t<kA, 1>(f, l, x, xt, codes, scales, zeros, fake_out);
    case 4: return quantize_t<kA, 2>(f, l, x, xt, codes, scales, zeros, fake_out);
    case 5: return quantize_t<kS, 2>(f, l, x, xt, codes, scales, zeros, fake_out);
    case 8: return quantize_t<kA, 4>(f, l, x, xt, codes, scales, zeros, fake_out);
    case 9: return quantize_t<kS, 4>(f, l, x, xt, codes, scales, zeros, fake_out);
    case 16: return quantize_t<kA, 8>(f, l, x, xt, codes, scales, zeros, fake_out);
    default: return quantize_t<kS, 8>(f, l, x, xt, codes, scales, zeros, fake_out);
  }
}

namespace {

template <int B, bool kSym, ElemType T, bool kStream>
void dequantize_tt(const QuantFormat& f, const PackedLayout& l, const uint32_t* codes,
                   const void* scales, const void* zeros, void* out) {
  if (f.axis == QuantAxis::kPerToken) {
    const int64_t groups = l.groups(), items = (groups + kTokenItem - 1) / kTokenItem;
#pragma omp parallel
    {
#pragma omp for schedule(dynamic, 8) nowait
      for (int64_t it = 0; it < items; ++it) {
        const int64_t g0 = it * kTokenItem, g1 = g0 + kTokenItem < groups ? g0 + kTokenItem : groups;
        token_dequantize_range<B, kSym, T, kStream>(f, l, codes, scales, zeros, out, g0, g1);
      }
      if constexpr (kStream) _mm_sfence();  // this thread's streamed lines before the barrier
    }
    return;
  }
  const int64_t items = l.lead * l.rows;
#pragma omp parallel
  {
    Scratch sc;
#pragma omp for schedule(dynamic, 32) nowait
    for (int64_t item = 0; item < items; ++item) {
      const int64_t n = item / l.rows, r = item % l.rows, t0 = r * l.group;
      const int64_t cnt = l.tokens - t0 < l.group ? l.tokens - t0 : l.group;
      channel_dequantize_item<B, kSym, T, kStream>(f, l, codes, scales, zeros, out,
                                                   (n * l.tokens + t0) * l.channels, cnt,
                                                   item * l.channels, sc);
    }
    if constexpr (kStream) _mm_sfence();
  }
}

template <int B, bool kSym, bool kStream>
void dequantize_s(const QuantFormat& f, const PackedLayout& l, const uint32_t* codes,
                  const void* scales, const void* zeros, void* out, ElemType ot) {
  if (ot == ElemType::kF32) return dequantize_tt<B, kSym, ElemType::kF32, kStream>(f, l, codes, scales, zeros, out);
  if (ot == ElemType::kBF16) return dequantize_tt<B, kSym, ElemType::kBF16, kStream>(f, l, codes, scales, zeros, out);
  dequantize_tt<B, kSym, ElemType::kF16, kStream>(f, l, codes, scales, zeros, out);
}

template <int B, bool kSym>
void dequantize_b(const QuantFormat& f, const PackedLayout& l, const uint32_t* codes,
                  const void* scales, const void* zeros, void* out, ElemType ot) {
  if (stream_output(out, ot, l.elements()))
    return dequantize_s<B, kSym, true>(f, l, codes, scales, zeros, out, ot);
  dequantize_s<B, kSym, false>(f, l, codes, scales, zeros, out, ot);
}

}  // namespace

void dequantize_avx512(const QuantFormat& f, const PackedLayout& l, const uint32_t* codes,
                       const void* scales, const void* zeros, void* out, ElemType ot) {
  switch (f.bits * 2 + (f.symmetric ? 1 : 0)) {
    case 2: return dequantize_b<1, false>(f, l, codes, scales, zeros, out, ot);
    case 4: return dequantize_b<2, false>(f, l, codes, scales, zeros, out, ot);
    case 5: return dequantize_b<2, true>(f, l, codes, scales, zeros, out, ot);
    case 8: return dequantize_b<4, false>(f, l, codes, scales, zeros, out, ot);
    case 9: return dequantize_b<4, true>(f, l, codes, scales, zeros, out, ot);
    case 16: return dequantize_b<8, false>(f, l, codes, scales, zeros, out, ot);
    default: return dequantize_b<8, true>(f, l, codes, scales, zeros, out, ot);
  }
}

}  // namespace kvmix::cpu
#endif
