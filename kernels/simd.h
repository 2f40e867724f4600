#pragma once
// Portable 16-lane vectors for the CPU kernels (GCC/Clang vector extensions): one AVX-512
// register, two AVX2 registers, or four SSE registers, depending on the function clone
// (kernels/cpu_target.h) they are inlined into. Used where the auto-vectorizer needs help: lane
// shuffles (reductions across groups) and the fused attention. Element-wise arithmetic on these
// types is IEEE per lane, so with -ffp-contract=off it matches the scalar code exactly.
#include <cstdint>
#include <cstring>

#define KVMIX_INLINE __attribute__((always_inline)) inline

// These helpers are always inlined, so the ABI of passing 64-byte vectors by value (which GCC
// warns differs between AVX-512 and baseline targets) never applies.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"

namespace kvmix::simd {

typedef float f32x16 __attribute__((vector_size(64)));
typedef uint32_t u32x16 __attribute__((vector_size(64)));
typedef int32_t i32x16 __attribute__((vector_size(64)));
typedef uint64_t u64x8 __attribute__((vector_size(64)));
typedef float f32x4 __attribute__((vector_size(16)));
typedef uint32_t u32x4 __attribute__((vector_size(16)));

constexpr int kLanes = 16;

KVMIX_INLINE f32x16 load(const float* p) {
  f32x16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
KVMIX_INLINE u32x16 load(const uint32_t* p) {
  u32x16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
KVMIX_INLINE void store(float* p, const f32x16& v) { std::memcpy(p, &v, sizeof v); }
KVMIX_INLINE void store(uint32_t* p, const u32x16& v) { std::memcpy(p, &v, sizeof v); }
// Broadcasts, written as a shuffle of lane 0: inside a function with an AVX-512 target attribute
// (our clones), GCC 12 expands both `f32x16{x, x, ...}` and `x - f32x16{}` into 16 masked lane
// inserts, but a shuffle into one vbroadcastss.
KVMIX_INLINE f32x16 splat(float x) {
  const f32x4 v = {x, 0.0f, 0.0f, 0.0f};
  return __builtin_shufflevector(v, v, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
}
// *p in every lane, read as a 16-byte load and a shuffle (one vbroadcastss from memory): the
// three floats after *p must be readable (pad scratch arrays by kSplatPad).
constexpr int kSplatPad = 3;
KVMIX_INLINE f32x16 splat_at(const float* p) {
  f32x4 v;
  std::memcpy(&v, p, sizeof v);
  return __builtin_shufflevector(v, v, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
}
KVMIX_INLINE u32x16 splat_u(uint32_t x) {
  const u32x4 v = {x, 0u, 0u, 0u};
  return __builtin_shufflevector(v, v, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
}

KVMIX_INLINE f32x16 vmin(const f32x16& a, const f32x16& b) { return a < b ? a : b; }
KVMIX_INLINE f32x16 vmax(const f32x16& a, const f32x16& b) { return a > b ? a : b; }

struct MinOp {
  KVMIX_INLINE f32x16 operator()(const f32x16& a, const f32x16& b) const { return vmin(a, b); }
};
struct MaxOp {
  KVMIX_INLINE f32x16 operator()(const f32x16& a, const f32x16& b) const { return vmax(a, b); }
};
struct AddOp {
  KVMIX_INLINE f32x16 operator()(const f32x16& a, const f32x16& b) const { return a + b; }
};

// out[g] = op over the 16 lanes of v[g], for 16 vectors at once: four rounds of pairwise
// shuffles halve the lanes per group (15 ops and 30 shuffles instead of 16 scalar reductions).
// The op must be associative and commutative on the values seen (min, max; + for the NaN probe).
template <class Op>
KVMIX_INLINE f32x16 transpose_reduce(const f32x16* v, Op op) {
  f32x16 a[8], b[4], c[2];
  for (int k = 0; k < 8; ++k) {  // a[k]: lanes 8q..8q+7 hold group 2k+q
    a[k] = op(__builtin_shufflevector(v[2 * k], v[2 * k + 1], 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18,
                                      19, 20, 21, 22, 23),
              __builtin_shufflevector(v[2 * k], v[2 * k + 1], 8, 9, 10, 11, 12, 13, 14, 15, 24, 25,
                                      26, 27, 28, 29, 30, 31));
  }
  for (int k = 0; k < 4; ++k) {  // b[k]: lanes 4q..4q+3 hold group 4k+q
    b[k] = op(__builtin_shufflevector(a[2 * k], a[2 * k + 1], 0, 1, 2, 3, 8, 9, 10, 11, 16, 17,
                                      18, 19, 24, 25, 26, 27),
              __builtin_shufflevector(a[2 * k], a[2 * k + 1], 4, 5, 6, 7, 12, 13, 14, 15, 20, 21,
                                      22, 23, 28, 29, 30, 31));
  }
  for (int k = 0; k < 2; ++k) {  // c[k]: lanes 2q, 2q+1 hold group 8k+q
    c[k] = op(__builtin_shufflevector(b[2 * k], b[2 * k + 1], 0, 1, 4, 5, 8, 9, 12, 13, 16, 17,
                                      20, 21, 24, 25, 28, 29),
              __builtin_shufflevector(b[2 * k], b[2 * k + 1], 2, 3, 6, 7, 10, 11, 14, 15, 18, 19,
                                      22, 23, 26, 27, 30, 31));
  }
  return op(__builtin_shufflevector(c[0], c[1], 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                    28, 30),
            __builtin_shufflevector(c[0], c[1], 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27,
                                    29, 31));
}


KVMIX_INLINE float reduce_add(const f32x16& v) {
  float s = 0.0f;
  for (int j = 0; j < kLanes; ++j) s += v[j];
  return s;
}
KVMIX_INLINE float reduce_max(const f32x16& v) {
  float m = v[0];
  for (int j = 1; j < kLanes; ++j) m = v[j] > m ? v[j] : m;
  return m;
}

// sum_i a[i]*b[i] in 16 lanes (n a multiple of 16); the order differs from a scalar loop.
KVMIX_INLINE float dot(const float* a, const float* b, int64_t n) {
  f32x16 acc = splat(0.0f);
  for (int64_t i = 0; i < n; i += kLanes) acc += load(a + i) * load(b + i);
  return reduce_add(acc);
}

// e^x per lane (Cephes expf: x = n*ln2 + r, |r| <= ln2/2, e^r by a degree-6 polynomial, then
// scaled by 2^n; relative error below 2e-7 on [-87, 88]). Underflows, -inf included, give 0.
KVMIX_INLINE f32x16 vexp(const f32x16& x_in) {
  const f32x16 x = vmin(x_in, splat(88.3762626647949f));
  const f32x16 t = x * 1.44269504088896341f + 0.5f;
  f32x16 fx = __builtin_convertvector(__builtin_convertvector(t, i32x16), f32x16);
  fx = fx > t ? fx - 1.0f : fx;  // floor
  const f32x16 r = x - fx * 0.693359375f - fx * -2.12194440e-4f;
  f32x16 y = splat(1.9875691500E-4f);
  y = y * r + 1.3981999507E-3f;
  y = y * r + 8.3334519073E-3f;
  y = y * r + 4.1665795894E-2f;
  y = y * r + 1.6666665459E-1f;
  y = y * r + 5.0000001201E-1f;
  y = y * (r * r) + r + 1.0f;
  const i32x16 n = __builtin_convertvector(fx, i32x16);
  const f32x16 e = (f32x16)((i32x16)y + (n << 23));  // vector casts reinterpret the bits
  return x_in < -87.3365447505531f ? splat(0.0f) : e;
}

}  // namespace kvmix::simd

#pragma GCC diagnostic pop
