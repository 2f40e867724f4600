// The CPU fused attention item for AVX2 + FMA (8 fp32 lanes): lane traits in intrinsics, the item
// itself from kernels/decode_attention_cpu_body.h. Chosen at run time by decode_attention_cpu when the
// CPU has AVX2 and FMA but not AVX-512.
#if defined(__x86_64__)
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "kernels/decode_attention_common.h"
#include "kernels/decode_attention_cpu_item.h"

#define KVMIX_SIMD_TARGET __attribute__((target("avx2,fma")))

namespace kvmix::attn {
namespace {

struct V8 {
  static constexpr int kLanes = 8;
  using F = __m256;
  KVMIX_SIMD_TARGET static F zero() { return _mm256_setzero_ps(); }
  KVMIX_SIMD_TARGET static F set1(float x) { return _mm256_set1_ps(x); }
  KVMIX_SIMD_TARGET static F bcast(const float* p) { return _mm256_broadcast_ss(p); }
  KVMIX_SIMD_TARGET static F load(const float* p) { return _mm256_loadu_ps(p); }
  KVMIX_SIMD_TARGET static void store(float* p, F v) { _mm256_storeu_ps(p, v); }
  KVMIX_SIMD_TARGET static F add(F a, F b) { return _mm256_add_ps(a, b); }
  KVMIX_SIMD_TARGET static F sub(F a, F b) { return _mm256_sub_ps(a, b); }
  KVMIX_SIMD_TARGET static F fma(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  KVMIX_SIMD_TARGET static float hsum(F v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }

  // e^x as in the AVX-512 traits (Cephes expf, 2e-7 relative; 0 below -87.3).
  KVMIX_SIMD_TARGET static F exp(F x) {
    const F under = _mm256_cmp_ps(x, _mm256_set1_ps(-87.3365447505531f), _CMP_LT_OQ);
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3365447505531f)), _mm256_set1_ps(88.3762626647949f));
    const F fx = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                 _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    F r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), r);
    F y = _mm256_set1_ps(1.9875691500E-4f);
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.3981999507E-3f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(8.3334519073E-3f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(4.1665795894E-2f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.6666665459E-1f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(5.0000001201E-1f));
    y = _mm256_fmadd_ps(y, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i e = _mm256_slli_epi32(_mm256_cvtps_epi32(fx), 23);
    const F out = _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(y), e));
    return _mm256_andnot_ps(under, out);
  }

  // The 8 codes of a chunk are 8*B bits: one word for B <= 4 (lanes in element order), two
  // words for B = 8 (lane l reads word l % 2 at code position l / 2).
  template <int B>
  KVMIX_SIMD_TARGET static F codes(const uint32_t* w, int64_t e0) {
    __m256i v, sh;
    const int64_t bit = e0 * B;
    if constexpr (B == 8) {
      long long p;
      std::memcpy(&p, w + (bit >> 5), 8);
      v = _mm256_set1_epi64x(p);
      sh = _mm256_setr_epi32(0, 0, 8, 8, 16, 16, 24, 24);
    } else {
      v = _mm256_set1_epi32(static_cast<int>(w[bit >> 5]));
      sh = _mm256_add_epi32(_mm256_setr_epi32(0, B, 2 * B, 3 * B, 4 * B, 5 * B, 6 * B, 7 * B),
                            _mm256_set1_epi32(static_cast<int>(bit & 31)));
    }
    const __m256i c = _mm256_and_si256(_mm256_srlv_epi32(v, sh), _mm256_set1_epi32((1 << B) - 1));
    return _mm256_cvtepi32_ps(c);
  }
  // Lane l of B = 8 holds element (l % 2)*4 + l/2.
  template <int B>
  KVMIX_SIMD_TARGET static F unpermute(F v) {
    if constexpr (B == 8) return _mm256_permutevar8x32_ps(v, _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7));
    return v;
  }
};

#include "kernels/decode_attention_cpu_body.h"

}  // namespace

KVMIX_SIMD_TARGET void attention_item_avx2(const DecodeAttentionArgs& a, int64_t b, int64_t kvh,
                                           int64_t t0, int64_t t1, int64_t k_fast_end,
                                           int64_t v_fast_end, float* st, ItemScratch& sc) {
  attention_item_t<V8>(a, b, kvh, t0, t1, k_fast_end, v_fast_end, st, sc);
}

}  // namespace kvmix::attn
#endif
