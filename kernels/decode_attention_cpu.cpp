// Fused decode attention on the CPU (kernels/decode_attention.h). Work items are (batch, KV head,
// block of ~1024 tokens); each computes, for the query heads sharing that KV head, the block's
// scores, its softmax maximum m, weights p = e^(s - m), their sum l and the weighted value sum,
// and the blocks are merged per head at the end (flash-decoding: Dao et al. 2023, "Flash-Decoding
// for long-context inference"). Softmax in fp32.
//
// The item (kernels/decode_attention_cpu_body.h) is compiled three times and picked at run time: AVX-512
// (16 lanes, attention_cpu_avx512.cpp), AVX2 + FMA (8 lanes, attention_cpu_avx2.cpp), and here a
// one-lane scalar version for any other CPU. Its fast paths decode a register of codes per step
// with one broadcast of the words holding them, a per-lane shift and a mask, and use each decoded
// code for every query head of the KV head (grouped-query attention reads each code once).
// Anything else (3 bits, odd groups, residual tokens, a partial key group) goes element by
// element through kernels/decode_attention_common.h.
#include <omp.h>

#include <cmath>
#include <vector>

#include "kernels/decode_attention.h"
#include "kernels/decode_attention_common.h"
#include "kernels/decode_attention_cpu_item.h"

#define KVMIX_SIMD_TARGET

namespace kvmix {

namespace attn {
namespace {

// One lane: the same algorithm as the SIMD variants, for CPUs without AVX2.
struct V1 {
  static constexpr int kLanes = 1;
  using F = float;
  static F zero() { return 0.0f; }
  static F set1(float x) { return x; }
  static F bcast(const float* p) { return *p; }
  static F load(const float* p) { return *p; }
  static void store(float* p, F v) { *p = v; }
  static F add(F a, F b) { return a + b; }
  static F sub(F a, F b) { return a - b; }
  static F fma(F a, F b, F c) { return a * b + c; }
  static float hsum(F v) { return v; }
  static F exp(F x) { return std::exp(x); }
  template <int B>
  static F codes(const uint32_t* w, int64_t e0) {
    return static_cast<float>(qmath::get_bits(w, e0, B));
  }
  template <int B>
  static F unpermute(F v) {
    return v;
  }
};

#include "kernels/decode_attention_cpu_body.h"

}  // namespace

void attention_item_scalar(const DecodeAttentionArgs& a, int64_t b, int64_t kvh, int64_t t0,
                           int64_t t1, int64_t k_fast_end, int64_t v_fast_end, float* st,
                           ItemScratch& sc) {
  attention_item_t<V1>(a, b, kvh, t0, t1, k_fast_end, v_fast_end, st, sc);
}

}  // namespace attn

namespace {

constexpr int64_t kBlockTokens = 1024;

}  // namespace

std::vector<attn::ItemVariant> attn::available_item_variants() {
  std::vector<ItemVariant> v;
#if defined(__x86_64__) && defined(__GNUC__)
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("fma"))
    v.push_back({"avx512", attention_item_avx512});
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    v.push_back({"avx2", attention_item_avx2});
#endif
  v.push_back({"scalar", attention_item_scalar});
  return v;
}

void decode_attention_cpu(const DecodeAttentionArgs& a) {
  static const attn::AttentionItemFn best = attn::available_item_variants().front().fn;
  attn::decode_attention_cpu_using(a, best);
}

void attn::decode_attention_cpu_using(const DecodeAttentionArgs& a, AttentionItemFn item) {
  const int64_t D = a.head_dim, g = a.q_heads / a.kv_heads, T = a.tokens();
  const PackedLayout &kl = a.k.layout, &vl = a.v.layout;
  // Fast regions: whole key groups; every packed value token.
  const bool kfast = attn::fast_operand(a.k.format, kl.group);
  const bool vfast = attn::fast_operand(a.v.format, vl.group);
  const int64_t k_fast_end = kfast ? (kl.tokens / kl.group) * kl.group : 0;
  const int64_t v_fast_end = vfast ? vl.tokens : 0;
  // Blocks hold whole key groups so every fast key group lies inside one block.
  const int64_t block = kfast ? ((kBlockTokens + kl.group - 1) / kl.group) * kl.group : kBlockTokens;
  const int64_t blocks = T == 0 ? 0 : (T + block - 1) / block;
  const int64_t slices = a.batch * a.kv_heads, items = slices * blocks;
  const int64_t state = g * (D + 2);
  std::vector<float> states(static_cast<size_t>(items * state));
#pragma omp parallel
  {
    attn::ItemScratch sc;
#pragma omp for schedule(dynamic, 1)
    for (int64_t it = 0; it < items; ++it) {
      const int64_t slice = it / blocks, blk = it % blocks;
      const int64_t t0 = blk * block, t1 = t0 + block < T ? t0 + block : T;
      item(a, slice / a.kv_heads, slice % a.kv_heads, t0, t1, k_fast_end, v_fast_end,
           states.data() + it * state, sc);
    }
  }
  // Merge the blocks of each head: out = sum_i e^(m_i - M) acc_i / sum_i e^(m_i - M) l_i.
#pragma omp parallel for schedule(static)
  for (int64_t slice = 0; slice < slices; ++slice) {
    std::vector<float> out(static_cast<size_t>(D));
    for (int64_t h = 0; h < g; ++h) {
      float M = -INFINITY;
      for (int64_t blk = 0; blk < blocks; ++blk) {
        const float m = states[(slice * blocks + blk) * state + h * (D + 2)];
        M = m > M ? m : M;
      }
      for (int64_t d = 0; d < D; ++d) out[d] = 0.0f;
      float L = 0.0f;
      if (M != -INFINITY) {
        for (int64_t blk = 0; blk < blocks; ++blk) {
          const float* s = states.data() + (slice * blocks + blk) * state + h * (D + 2);
          if (s[0] == -INFINITY) continue;
          const float w = std::exp(s[0] - M);
          L += w * s[1];
          for (int64_t d = 0; d < D; ++d) out[d] += w * s[2 + d];
        }
        for (int64_t d = 0; d < D; ++d) out[d] /= L;
      }
      const int64_t b = slice / a.kv_heads, hq = (slice % a.kv_heads) * g + h;
      for (int64_t d = 0; d < D; ++d) qmath::store_elem(a.out, a.out_type, (b * a.q_heads + hq) * D + d, out[d]);
    }
  }
}

}  // namespace kvmix
