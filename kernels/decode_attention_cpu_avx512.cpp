// The CPU fused attention item for AVX-512 (16 fp32 lanes): lane traits in intrinsics, the item
// itself from kernels/decode_attention_cpu_body.h. Chosen at run time by decode_attention_cpu when the
// CPU has AVX-512 F/BW/DQ/VL and FMA.
#if defined(__x86_64__)
// GCC 12 warns about its own _mm512_undefined_* idiom (`__m512 __Y = __Y;`) when the intrinsics
// are inlined at -O3: a false positive inside avx512fintrin.h.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "kernels/decode_attention_common.h"
#include "kernels/decode_attention_cpu_item.h"

#define KVMIX_SIMD_TARGET __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))

namespace kvmix::attn {
namespace {

struct V16 {
  static constexpr int kLanes = 16;
  using F = __m512;
  KVMIX_SIMD_TARGET static F zero() { return _mm512_setzero_ps(); }
  KVMIX_SIMD_TARGET static F set1(float x) { return _mm512_set1_ps(x); }
  KVMIX_SIMD_TARGET static F bcast(const float* p) { return _mm512_set1_ps(*p); }
  KVMIX_SIMD_TARGET static F load(const float* p) { return _mm512_loadu_ps(p); }
  KVMIX_SIMD_TARGET static void store(float* p, F v) { _mm512_storeu_ps(p, v); }
  KVMIX_SIMD_TARGET static F add(F a, F b) { return _mm512_add_ps(a, b); }
  KVMIX_SIMD_TARGET static F sub(F a, F b) { return _mm512_sub_ps(a, b); }
  KVMIX_SIMD_TARGET static F fma(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  KVMIX_SIMD_TARGET static float hsum(F v) { return _mm512_reduce_add_ps(v); }

  // e^x, Cephes expf: x = n*ln2 + r, e^r by a degree-6 polynomial (2e-7 relative), times 2^n;
  // 0 below -87.3 (the fp32 underflow), -inf included.
  KVMIX_SIMD_TARGET static F exp(F x) {
    const __mmask16 under = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.3365447505531f), _CMP_LT_OQ);
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.3365447505531f)), _mm512_set1_ps(88.3762626647949f));
    const F fx = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                      _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    F r = _mm512_fnmadd_ps(fx, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(fx, _mm512_set1_ps(-2.12194440e-4f), r);
    F y = _mm512_set1_ps(1.9875691500E-4f);
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.3981999507E-3f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(8.3334519073E-3f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(4.1665795894E-2f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.6666665459E-1f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(5.0000001201E-1f));
    y = _mm512_fmadd_ps(y, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    const __m512i e = _mm512_slli_epi32(_mm512_cvtps_epi32(fx), 23);
    const F out = _mm512_castsi512_ps(_mm512_add_epi32(_mm512_castps_si512(y), e));
    return _mm512_maskz_mov_ps(static_cast<__mmask16>(~under), out);
  }

  // The 16 codes of a chunk are 16*B bits = B/2 words (B >= 2): broadcast those words, lane l
  // reads word l % (B/2) at code position l / (B/2).
  template <int B>
  KVMIX_SIMD_TARGET static F codes(const uint32_t* w, int64_t e0) {
    __m512i v, sh;
    if constexpr (B == 1) {
      v = _mm512_set1_epi32(static_cast<int>(w[e0 >> 5]));
      sh = _mm512_add_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                            _mm512_set1_epi32(static_cast<int>(e0 & 31)));
    } else if constexpr (B == 2) {
      v = _mm512_set1_epi32(static_cast<int>(w[e0 >> 4]));
      sh = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    } else if constexpr (B == 4) {
      long long p;
      std::memcpy(&p, w + (e0 >> 3), 8);
      v = _mm512_set1_epi64(p);
      sh = _mm512_setr_epi32(0, 0, 4, 4, 8, 8, 12, 12, 16, 16, 20, 20, 24, 24, 28, 28);
    } else {
      v = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + (e0 >> 2))));
      sh = _mm512_setr_epi32(0, 0, 0, 0, 8, 8, 8, 8, 16, 16, 16, 16, 24, 24, 24, 24);
    }
    const __m512i c = _mm512_and_si512(_mm512_srlv_epi32(v, sh), _mm512_set1_epi32((1 << B) - 1));
    return _mm512_cvtepi32_ps(c);
  }
  // Lane l of B = 4 holds element (l % 2)*8 + l/2; of B = 8, element (l % 4)*4 + l/4.
  template <int B>
  KVMIX_SIMD_TARGET static F unpermute(F v) {
    if constexpr (B == 4) {
      return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15), v);
    } else if constexpr (B == 8) {
      return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), v);
    } else {
      return v;
    }
  }
};

#include "kernels/decode_attention_cpu_body.h"

}  // namespace

KVMIX_SIMD_TARGET void attention_item_avx512(const DecodeAttentionArgs& a, int64_t b, int64_t kvh,
                                             int64_t t0, int64_t t1, int64_t k_fast_end,
                                             int64_t v_fast_end, float* st, ItemScratch& sc) {
  attention_item_t<V16>(a, b, kvh, t0, t1, k_fast_end, v_fast_end, st, sc);
}

}  // namespace kvmix::attn
#endif
