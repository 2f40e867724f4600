// Fused decode attention on the CPU (kernels/attention.h). Work items are (batch, KV head,
// block of ~1024 tokens); each computes, for the query heads sharing that KV head, the block's
// scores, its softmax maximum m, weights p = e^(s - m), their sum l and the weighted value sum,
// and the blocks are merged per head at the end (flash-decoding: Dao et al. 2023, "Flash-Decoding
// for long-context inference"). Softmax in fp32.
//
// Fast paths (bits 1, 2, 4, 8; G a multiple of 16): 16 codes are decoded per step with one
// broadcast of the words holding them, a per-lane shift and a mask, then converted to fp32 and
// used by every query head of the KV head (grouped-query attention reads each code once).
//   keys   (per-channel): score_t = sum_d qs[d]*c[t][d] + sum_d q[d]*B[d], qs = q*A per group
//   values (per-token):   out[d] += sum_t (p_t*A_t) c[t][d], plus sum_t p_t*B_t per group
// Anything else (3 bits, odd groups, residual tokens, a partial key group) goes through the
// element-by-element generic path of kernels/attention_common.h.
#include <omp.h>

#include <cmath>
#include <vector>

#include "kernels/attention.h"
#include "kernels/attention_common.h"
#include "kernels/cpu_target.h"
#include "kernels/simd.h"

#pragma GCC diagnostic ignored "-Wpsabi"  // 64-byte vectors only in always-inline helpers

namespace kvmix {

namespace {

using namespace simd;
typedef uint32_t u32x4 __attribute__((vector_size(16)));

constexpr int64_t kBlockTokens = 1024;

// ---- 16 codes per step --------------------------------------------------------------------------
// The 16 codes of elements e0..e0+15 of a group (e0 a multiple of 16) occupy 16*B bits = B/2
// words (B >= 2). Lane l reads word l % (B/2) at code position l / (B/2), so one broadcast of
// those words feeds every lane; lane l then holds element (l % (B/2))*(32/B) + l/(B/2), and
// unpermute<B> puts a lane-ordered result back in element order.

constexpr u32x16 kIota = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

template <int B>
KVMIX_INLINE u32x16 chunk_codes(const uint32_t* w, int64_t e0) {
  if constexpr (B == 1) {
    return (splat_u(w[e0 >> 5]) >> (kIota + static_cast<uint32_t>(e0 & 31))) & 1u;
  } else if constexpr (B == 2) {
    return (splat_u(w[e0 >> 4]) >> (kIota * 2u)) & 3u;
  } else if constexpr (B == 4) {
    u32x4 p = {0, 0, 0, 0};
    std::memcpy(&p, w + (e0 >> 3), 8);
    const u32x16 v = __builtin_shufflevector(p, p, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1);
    const u32x16 sh = {0, 0, 4, 4, 8, 8, 12, 12, 16, 16, 20, 20, 24, 24, 28, 28};
    return (v >> sh) & 15u;
  } else {
    u32x4 p;
    std::memcpy(&p, w + (e0 >> 2), 16);
    const u32x16 v = __builtin_shufflevector(p, p, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3);
    const u32x16 sh = {0, 0, 0, 0, 8, 8, 8, 8, 16, 16, 16, 16, 24, 24, 24, 24};
    return (v >> sh) & 255u;
  }
}

template <int B>
KVMIX_INLINE f32x16 chunk_values(const uint32_t* w, int64_t e0) {
  return __builtin_convertvector((i32x16)chunk_codes<B>(w, e0), f32x16);  // codes < 2^8 stay exact
}

template <int B>
KVMIX_INLINE f32x16 unpermute(const f32x16& v) {
  if constexpr (B == 4) {
    return __builtin_shufflevector(v, v, 0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
  } else if constexpr (B == 8) {
    return __builtin_shufflevector(v, v, 0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  } else {
    return v;
  }
}

// ---- keys: scores of one per-channel group for HG query heads ------------------------------------
// qs [HG, D] = q*A of this group, bias [HG] = sum_d q*B; writes score[h*stride + e] for the G
// tokens of the group.
template <int B, int HG>
KVMIX_INLINE void group_scores(const uint32_t* codes, int64_t D, int64_t G, int64_t W,
                               const float* qs, const float* bias, float* score, int64_t stride) {
  for (int64_t e0 = 0; e0 < G; e0 += kLanes) {
    f32x16 acc[HG];
    for (int h = 0; h < HG; ++h) acc[h] = splat(bias[h]);
    for (int64_t d = 0; d < D; ++d) {
      const f32x16 c = chunk_values<B>(codes + d * W, e0);
      for (int h = 0; h < HG; ++h) acc[h] += splat(qs[h * D + d]) * c;
    }
    for (int h = 0; h < HG; ++h) store(score + h * stride + e0, unpermute<B>(acc[h]));
  }
}

// ---- values: out[h][d] += sum_t ps[h][c][t] * code[t][d] over tokens [0, n) of a block ----------
// codes points at the block's first token; ps is [HG, cols, n] (p_t * A_t of group c).
template <int B, int HG>
KVMIX_INLINE void block_values(const uint32_t* codes, int64_t n, int64_t D, int64_t G, int64_t W,
                               const float* ps, float* out) {
  const int64_t cols = D / G, row = cols * W;
  for (int64_t dc = 0; dc < D; dc += kLanes) {
    const int64_t c = dc / G, e0 = dc % G;
    f32x16 acc[HG];
    for (int h = 0; h < HG; ++h) acc[h] = splat(0.0f);
    const uint32_t* w = codes + c * W;
    for (int64_t t = 0; t < n; ++t, w += row) {
      const f32x16 x = chunk_values<B>(w, e0);
      for (int h = 0; h < HG; ++h) acc[h] += splat(ps[(h * cols + c) * n + t]) * x;
    }
    for (int h = 0; h < HG; ++h) store(out + h * D + dc, load(out + h * D + dc) + unpermute<B>(acc[h]));
  }
}

// Runtime (bits, heads) -> template; heads beyond 8 or not a power of two are done in batches.
template <int B>
KVMIX_INLINE void scores_for(int hg, const uint32_t* codes, int64_t D, int64_t G, int64_t W,
                             const float* qs, const float* bias, float* score, int64_t stride) {
  switch (hg) {
    case 8: return group_scores<B, 8>(codes, D, G, W, qs, bias, score, stride);
    case 4: return group_scores<B, 4>(codes, D, G, W, qs, bias, score, stride);
    case 2: return group_scores<B, 2>(codes, D, G, W, qs, bias, score, stride);
    default: return group_scores<B, 1>(codes, D, G, W, qs, bias, score, stride);
  }
}

template <int B>
KVMIX_INLINE void values_for(int hg, const uint32_t* codes, int64_t n, int64_t D, int64_t G,
                             int64_t W, const float* ps, float* out) {
  switch (hg) {
    case 8: return block_values<B, 8>(codes, n, D, G, W, ps, out);
    case 4: return block_values<B, 4>(codes, n, D, G, W, ps, out);
    case 2: return block_values<B, 2>(codes, n, D, G, W, ps, out);
    default: return block_values<B, 1>(codes, n, D, G, W, ps, out);
  }
}

int head_batch(int64_t left) { return left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1; }

bool fast_operand(const QuantFormat& f, int64_t group) {
  return f.kind == QuantKind::kUniform &&
         (f.bits == 1 || f.bits == 2 || f.bits == 4 || f.bits == 8) && group % kLanes == 0;
}

// Per-thread buffers of one work item.
struct ItemScratch {
  std::vector<float> q, qs, bias, a, b, score, ps, acc;
  static float* grow(std::vector<float>& v, int64_t n) {
    if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
    return v.data();
  }
};

// One work item: KV slice n = (b, kvh), tokens [t0, t1), query heads hq0 .. hq0 + g - 1.
// Writes the block's softmax state per head: st[h] = {m, l, acc[D]}.
KVMIX_CPU_CLONES void attention_item(const DecodeAttentionArgs& a, int64_t b, int64_t kvh,
                                     int64_t t0, int64_t t1, int64_t k_fast_end,
                                     int64_t v_fast_end, float* st, ItemScratch& sc) {
  const int64_t D = a.head_dim, g = a.q_heads / a.kv_heads, n = b * a.kv_heads + kvh;
  const int64_t T = a.tokens(), len = t1 - t0;
  const float qscale = 1.0f / std::sqrt(static_cast<float>(D));
  float* q = ItemScratch::grow(sc.q, g * D);
  for (int64_t h = 0; h < g; ++h)
    for (int64_t d = 0; d < D; ++d)
      q[h * D + d] = qmath::load_elem(a.q, a.q_type, (b * a.q_heads + kvh * g + h) * D + d) * qscale;
  float* score = ItemScratch::grow(sc.score, g * len);

  // Scores: whole key groups through the fast path, the rest element by element.
  const PackedOperand& k = a.k;
  const int64_t kend = t1 < k_fast_end ? t1 : k_fast_end;
  if (t0 < kend) {
    const PackedLayout& kl = k.layout;
    const QuantFamily fam = quant_family(k.format);
    float* qs = ItemScratch::grow(sc.qs, g * D);
    float* bias = ItemScratch::grow(sc.bias, g);
    float* A = ItemScratch::grow(sc.a, D);
    float* Bv = ItemScratch::grow(sc.b, D);
    for (int64_t r = t0 / kl.group; r < kend / kl.group; ++r) {
      const int64_t g0 = (n * kl.rows + r) * D;
      for (int64_t d = 0; d < D; ++d) {
        const float s = qmath::load_scale(k.scales, k.format.scale_dtype, g0 + d);
        const float z = k.zeros ? qmath::load_scale(k.zeros, k.format.scale_dtype, g0 + d) : 0.0f;
        const attn::Affine af = attn::affine_of(fam, k.format.bits, s, z);
        A[d] = af.a;
        Bv[d] = af.b;
      }
      for (int64_t h = 0; h < g; ++h) {
        for (int64_t d = 0; d < D; ++d) qs[h * D + d] = q[h * D + d] * A[d];
        bias[h] = D % kLanes == 0 ? dot(q + h * D, Bv, D) : 0.0f;
        if (D % kLanes) for (int64_t d = 0; d < D; ++d) bias[h] += q[h * D + d] * Bv[d];
      }
      const uint32_t* codes = k.codes + g0 * kl.words;
      float* srow = score + (r * kl.group - t0);
      for (int64_t h0 = 0; h0 < g;) {
        const int hg = head_batch(g - h0);
        const float* qh = qs + h0 * D;
        float* sh = srow + h0 * len;
        switch (k.format.bits) {
          case 1: scores_for<1>(hg, codes, D, kl.group, kl.words, qh, bias + h0, sh, len); break;
          case 2: scores_for<2>(hg, codes, D, kl.group, kl.words, qh, bias + h0, sh, len); break;
          case 4: scores_for<4>(hg, codes, D, kl.group, kl.words, qh, bias + h0, sh, len); break;
          default: scores_for<8>(hg, codes, D, kl.group, kl.words, qh, bias + h0, sh, len);
        }
        h0 += hg;
      }
    }
  }
  for (int64_t t = (kend > t0 ? kend : t0); t < t1; ++t) {
    for (int64_t h = 0; h < g; ++h) score[h * len + t - t0] = 0.0f;
    for (int64_t d = 0; d < D; ++d) {
      const float x = attn::operand_element(k, n, t, d);
      for (int64_t h = 0; h < g; ++h) score[h * len + t - t0] += q[h * D + d] * x;
    }
  }

  // Block softmax state: mask, max, weights (in place of the scores), sum.
  for (int64_t h = 0; h < g; ++h) {
    float* s = score + h * len;
    if (a.valid)
      for (int64_t t = t0; t < t1; ++t) s[t - t0] = a.valid[b * T + t] ? s[t - t0] : -INFINITY;
    float m = -INFINITY;
    for (int64_t t = 0; t < len; ++t) m = s[t] > m ? s[t] : m;
    float l = 0.0f;
    if (m != -INFINITY) {
      int64_t t = 0;
      f32x16 lsum = splat(0.0f);
      for (; t + kLanes <= len; t += kLanes) {
        const f32x16 p = vexp(load(s + t) - m);
        store(s + t, p);
        lsum += p;
      }
      l = reduce_add(lsum);
      for (; t < len; ++t) {
        s[t] = s[t] == -INFINITY ? 0.0f : std::exp(s[t] - m);
        l += s[t];
      }
    } else {
      for (int64_t t = 0; t < len; ++t) s[t] = 0.0f;
    }
    st[h * (D + 2)] = m;
    st[h * (D + 2) + 1] = l;
    for (int64_t d = 0; d < D; ++d) st[h * (D + 2) + 2 + d] = 0.0f;
  }
  float* acc = ItemScratch::grow(sc.acc, g * D);
  for (int64_t j = 0; j < g * D; ++j) acc[j] = 0.0f;

  // Values: the packed tokens through the fast path, the rest element by element.
  const PackedOperand& v = a.v;
  const int64_t vend = t1 < v_fast_end ? t1 : v_fast_end;
  if (t0 < vend) {
    const PackedLayout& vl = v.layout;
    const QuantFamily fam = quant_family(v.format);
    const int64_t cols = vl.cols, nv = vend - t0;
    float* A = ItemScratch::grow(sc.a, cols * nv);  // [cols, nv]
    float* Bv = ItemScratch::grow(sc.b, cols * nv);
    for (int64_t t = 0; t < nv; ++t) {
      for (int64_t c = 0; c < cols; ++c) {
        const int64_t gi = (n * vl.rows + t0 + t) * cols + c;
        const float s = qmath::load_scale(v.scales, v.format.scale_dtype, gi);
        const float z = v.zeros ? qmath::load_scale(v.zeros, v.format.scale_dtype, gi) : 0.0f;
        const attn::Affine af = attn::affine_of(fam, v.format.bits, s, z);
        A[c * nv + t] = af.a;
        Bv[c * nv + t] = af.b;
      }
    }
    float* ps = ItemScratch::grow(sc.ps, g * cols * nv);  // [g, cols, nv]
    for (int64_t h = 0; h < g; ++h) {
      const float* p = score + h * len;
      for (int64_t c = 0; c < cols; ++c) {
        float* out = ps + (h * cols + c) * nv;
        const float* Ac = A + c * nv;
        for (int64_t t = 0; t < nv; ++t) out[t] = p[t] * Ac[t];
        float bsum = 0.0f;  // sum_t p_t*B_t, added to every channel of group c
        for (int64_t t = 0; t < nv; ++t) bsum += p[t] * Bv[c * nv + t];
        for (int64_t d = c * vl.group; d < (c + 1) * vl.group; ++d) acc[h * D + d] += bsum;
      }
    }
    const uint32_t* codes = v.codes + (n * vl.rows + t0) * cols * vl.words;
    for (int64_t h0 = 0; h0 < g;) {
      const int hg = head_batch(g - h0);
      const float* ph = ps + h0 * cols * nv;
      float* oh = acc + h0 * D;
      switch (v.format.bits) {
        case 1: values_for<1>(hg, codes, nv, D, vl.group, vl.words, ph, oh); break;
        case 2: values_for<2>(hg, codes, nv, D, vl.group, vl.words, ph, oh); break;
        case 4: values_for<4>(hg, codes, nv, D, vl.group, vl.words, ph, oh); break;
        default: values_for<8>(hg, codes, nv, D, vl.group, vl.words, ph, oh);
      }
      h0 += hg;
    }
  }
  for (int64_t t = (vend > t0 ? vend : t0); t < t1; ++t) {
    for (int64_t d = 0; d < D; ++d) {
      const float x = attn::operand_element(v, n, t, d);
      for (int64_t h = 0; h < g; ++h) acc[h * D + d] += score[h * len + t - t0] * x;
    }
  }
  for (int64_t h = 0; h < g; ++h)
    for (int64_t d = 0; d < D; ++d) st[h * (D + 2) + 2 + d] = acc[h * D + d];
}

}  // namespace

void decode_attention_cpu(const DecodeAttentionArgs& a) {
  const int64_t D = a.head_dim, g = a.q_heads / a.kv_heads, T = a.tokens();
  const PackedLayout &kl = a.k.layout, &vl = a.v.layout;
  // Fast regions: whole key groups; every packed value token.
  const bool kfast = fast_operand(a.k.format, kl.group), vfast = fast_operand(a.v.format, vl.group);
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
    ItemScratch sc;
#pragma omp for schedule(dynamic, 1)
    for (int64_t it = 0; it < items; ++it) {
      const int64_t slice = it / blocks, blk = it % blocks;
      const int64_t t0 = blk * block, t1 = t0 + block < T ? t0 + block : T;
      attention_item(a, slice / a.kv_heads, slice % a.kv_heads, t0, t1, k_fast_end, v_fast_end,
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
