#include "kernels/elem_rows.h"

#include <cstring>

#include "kernels/cpu_target.h"
#include "kernels/quant_math.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace kvmix {

using namespace qmath;

namespace {

KVMIX_CPU_CLONES void bf16_to_f32_row(const uint16_t* src, int64_t n, float* dst) {
  for (int64_t i = 0; i < n; ++i) dst[i] = bits_float(static_cast<uint32_t>(src[i]) << 16);
}

// Round to nearest even, NaN -> 0x7FC0: qmath::f32_to_bf16 written without branches.
KVMIX_CPU_CLONES void f32_to_bf16_row(const float* src, int64_t n, uint16_t* dst) {
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t u = float_bits(src[i]);
    const uint32_t r = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
    dst[i] = static_cast<uint16_t>((u & 0x7FFFFFFFu) > 0x7F800000u ? 0x7FC0u : r);
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
// The F16C instructions convert exactly as IEEE round-to-nearest-even, like qmath::f32_to_f16.
__attribute__((target("avx,f16c"))) void f16_to_f32_row_f16c(const uint16_t* src, int64_t n,
                                                              float* dst) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
  }
  for (; i < n; ++i) dst[i] = f16_to_f32(src[i]);
}

__attribute__((target("avx,f16c"))) void f32_to_f16_row_f16c(const float* src, int64_t n,
                                                              uint16_t* dst) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), h);
  }
  for (; i < n; ++i) dst[i] = f32_to_f16(src[i]);
}

bool have_f16c() {
  static const bool ok = __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx");
  return ok;
}
#else
bool have_f16c() { return false; }
void f16_to_f32_row_f16c(const uint16_t*, int64_t, float*) {}
void f32_to_f16_row_f16c(const float*, int64_t, uint16_t*) {}
#endif

}  // namespace

void load_row_f32(const void* src, ElemType t, int64_t offset, int64_t n, float* dst) {
  if (t == ElemType::kF32) {
    std::memcpy(dst, static_cast<const float*>(src) + offset, static_cast<size_t>(n) * 4);
    return;
  }
  const uint16_t* s = static_cast<const uint16_t*>(src) + offset;
  if (t == ElemType::kBF16) return bf16_to_f32_row(s, n, dst);
  if (have_f16c()) return f16_to_f32_row_f16c(s, n, dst);
  for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(s[i]);
}

void store_row_f32(const float* src, int64_t n, ElemType t, void* dst, int64_t offset) {
  if (t == ElemType::kF32) {
    std::memcpy(static_cast<float*>(dst) + offset, src, static_cast<size_t>(n) * 4);
    return;
  }
  uint16_t* d = static_cast<uint16_t*>(dst) + offset;
  if (t == ElemType::kBF16) return f32_to_bf16_row(src, n, d);
  if (have_f16c()) return f32_to_f16_row_f16c(src, n, d);
  for (int64_t i = 0; i < n; ++i) d[i] = f32_to_f16(src[i]);
}

}  // namespace kvmix
