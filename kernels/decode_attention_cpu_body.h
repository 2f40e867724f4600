// The CPU fused attention work item, written once over a lane-traits class V and compiled per
// instruction set: the including file defines KVMIX_SIMD_TARGET (the target attribute of these
// functions, or nothing) and its traits, then includes this file inside its own anonymous
// namespace (so no inline function leaks to another instruction set through the linker).
// Deliberately no include guard: it is a body, not an interface.
//
// V provides: kLanes; F (a register of lanes); zero, set1, bcast(const float*), load, store,
// fma(a, b, c) = a*b + c, max, hmax, hsum, exp (0 for -inf); codes<B>(words, e0): the codes of
// elements e0 .. e0 + kLanes - 1 of a group (e0 a multiple of kLanes) as floats, in the traits'
// lane order; unpermute<B>: lane order back to element order.
//
// Per item (KV slice n, tokens [t0, t1), the g query heads of that KV head):
//   keys   per-channel groups: qs[d] = q[d]*A[d], bias = sum_d q[d]*B[d] once per group, then
//          score_t = bias + sum_d qs[d]*c[t][d], kLanes tokens at a time (KIVI, arXiv 2402.02750)
//   softmax block state: m = max, p = e^(s - m) in place of the scores, l = sum p
//   values per-token groups: ps[t] = p_t*A_t, out[d] += sum_t ps[t]*c[t][d] (kLanes channels at
//          a time), plus sum_t p_t*B_t per group
// where value = c*A + B is the affine form of a uniform code (kernels/decode_attention_common.h).

template <class V>
KVMIX_SIMD_TARGET inline float dot(const float* a, const float* b, int64_t n) {
  typename V::F acc = V::zero();
  int64_t i = 0;
  for (; i + V::kLanes <= n; i += V::kLanes) acc = V::fma(V::load(a + i), V::load(b + i), acc);
  float s = V::hsum(acc);
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

// score[h*stride + e] for the G tokens of one key group; qs [HG, D], bias [HG].
template <class V, int B, int HG>
KVMIX_SIMD_TARGET inline void group_scores(const uint32_t* codes, int64_t D, int64_t G, int64_t W,
                                           const float* qs, const float* bias, float* score,
                                           int64_t stride) {
  for (int64_t e0 = 0; e0 < G; e0 += V::kLanes) {
    typename V::F acc[HG];
    for (int h = 0; h < HG; ++h) acc[h] = V::set1(bias[h]);
    for (int64_t d = 0; d < D; ++d) {
      const typename V::F c = V::template codes<B>(codes + d * W, e0);
      for (int h = 0; h < HG; ++h) acc[h] = V::fma(V::bcast(qs + h * D + d), c, acc[h]);
    }
    for (int h = 0; h < HG; ++h) V::store(score + h * stride + e0, V::template unpermute<B>(acc[h]));
  }
}

// out[h][d] += sum_t ps[h][c][t] * code[t][d] over n tokens; codes points at the first token.
template <class V, int B, int HG>
KVMIX_SIMD_TARGET inline void block_values(const uint32_t* codes, int64_t n, int64_t D, int64_t G,
                                           int64_t W, const float* ps, float* out) {
  const int64_t cols = D / G, row = cols * W;
  for (int64_t dc = 0; dc < D; dc += V::kLanes) {
    const int64_t c = dc / G, e0 = dc % G;
    typename V::F acc[HG];
    for (int h = 0; h < HG; ++h) acc[h] = V::zero();
    const uint32_t* w = codes + c * W;
    for (int64_t t = 0; t < n; ++t, w += row) {
      const typename V::F x = V::template codes<B>(w, e0);
      for (int h = 0; h < HG; ++h) acc[h] = V::fma(V::bcast(ps + (h * cols + c) * n + t), x, acc[h]);
    }
    for (int h = 0; h < HG; ++h) {
      float* o = out + h * D + dc;
      V::store(o, V::add(V::load(o), V::template unpermute<B>(acc[h])));
    }
  }
}

// Heads in batches of 8, 4, 2 or 1 (each batch reads the codes once).
template <class V, int B>
KVMIX_SIMD_TARGET inline void scores_batched(int64_t g, const uint32_t* codes, int64_t D, int64_t G,
                                             int64_t W, const float* qs, const float* bias,
                                             float* score, int64_t stride) {
  for (int64_t h0 = 0; h0 < g;) {
    const int64_t left = g - h0;
    const float* q = qs + h0 * D;
    float* s = score + h0 * stride;
    if (left >= 8) {
      group_scores<V, B, 8>(codes, D, G, W, q, bias + h0, s, stride), h0 += 8;
    } else if (left >= 4) {
      group_scores<V, B, 4>(codes, D, G, W, q, bias + h0, s, stride), h0 += 4;
    } else if (left >= 2) {
      group_scores<V, B, 2>(codes, D, G, W, q, bias + h0, s, stride), h0 += 2;
    } else {
      group_scores<V, B, 1>(codes, D, G, W, q, bias + h0, s, stride), h0 += 1;
    }
  }
}

template <class V, int B>
KVMIX_SIMD_TARGET inline void values_batched(int64_t g, const uint32_t* codes, int64_t n, int64_t D,
                                             int64_t G, int64_t W, const float* ps, float* out) {
  const int64_t cols = D / G;
  for (int64_t h0 = 0; h0 < g;) {
    const int64_t left = g - h0;
    const float* p = ps + h0 * cols * n;
    float* o = out + h0 * D;
    if (left >= 8) {
      block_values<V, B, 8>(codes, n, D, G, W, p, o), h0 += 8;
    } else if (left >= 4) {
      block_values<V, B, 4>(codes, n, D, G, W, p, o), h0 += 4;
    } else if (left >= 2) {
      block_values<V, B, 2>(codes, n, D, G, W, p, o), h0 += 2;
    } else {
      block_values<V, B, 1>(codes, n, D, G, W, p, o), h0 += 1;
    }
  }
}

// Scales (and zeros) of n consecutive groups as fp32, then their affine form A, B.
KVMIX_SIMD_TARGET inline void group_affine(const PackedOperand& o, int64_t g0, int64_t n, float* S,
                                           float* Z, float* A, float* B) {
  const bool f16 = o.format.scale_dtype == ScaleDtype::kF16;
  const uint16_t* s16 = static_cast<const uint16_t*>(o.scales) + g0;
  const float* s32 = static_cast<const float*>(o.scales) + g0;
  for (int64_t i = 0; i < n; ++i) S[i] = f16 ? qmath::f16_to_f32(s16[i]) : s32[i];
  const QuantFamily fam = quant_family(o.format);
  if (fam == QuantFamily::kAsym) {
    const uint16_t* z16 = static_cast<const uint16_t*>(o.zeros) + g0;
    const float* z32 = static_cast<const float*>(o.zeros) + g0;
    for (int64_t i = 0; i < n; ++i) Z[i] = f16 ? qmath::f16_to_f32(z16[i]) : z32[i];
    for (int64_t i = 0; i < n; ++i) A[i] = S[i];
    for (int64_t i = 0; i < n; ++i) B[i] = Z[i];
  } else if (fam == QuantFamily::kSym1) {
    for (int64_t i = 0; i < n; ++i) A[i] = 2.0f * S[i];
    for (int64_t i = 0; i < n; ++i) B[i] = -S[i];
  } else {
    const float half = qmath::Sym::half_levels(o.format.bits);
    for (int64_t i = 0; i < n; ++i) A[i] = S[i];
    for (int64_t i = 0; i < n; ++i) B[i] = -half * S[i];
  }
}

template <class V>
KVMIX_SIMD_TARGET void attention_item_t(const DecodeAttentionArgs& a, int64_t b, int64_t kvh,
                                        int64_t t0, int64_t t1, int64_t k_fast_end,
                                        int64_t v_fast_end, float* st, ItemScratch& sc) {
  const int64_t D = a.head_dim, g = a.q_heads / a.kv_heads, n = b * a.kv_heads + kvh;
  const int64_t T = a.tokens(), len = t1 - t0;
  const float qscale = 1.0f / std::sqrt(static_cast<float>(D));
  float* q = ItemScratch::grow(sc.q, g * D);
  for (int64_t h = 0; h < g; ++h)
    for (int64_t d = 0; d < D; ++d)
      q[h * D + d] = qmath::load_elem(a.q, a.q_type, (b * a.q_heads + kvh * g + h) * D + d) * qscale;
  float* score = ItemScratch::grow(sc.score, g * len + V::kLanes);

  // Scores: whole key groups through the fast path, the rest element by element.
  const PackedOperand& k = a.k;
  const int64_t kend = t1 < k_fast_end ? t1 : k_fast_end;
  if (t0 < kend) {
    const PackedLayout& kl = k.layout;
    float* qs = ItemScratch::grow(sc.qs, g * D);
    float* bias = ItemScratch::grow(sc.bias, g);
    float *S = ItemScratch::grow(sc.s, D), *Z = ItemScratch::grow(sc.z, D);
    float *A = ItemScratch::grow(sc.a, D), *Bv = ItemScratch::grow(sc.b, D);
    for (int64_t r = t0 / kl.group; r < kend / kl.group; ++r) {
      const int64_t g0 = (n * kl.rows + r) * D;
      group_affine(k, g0, D, S, Z, A, Bv);
      for (int64_t h = 0; h < g; ++h) {
        for (int64_t d = 0; d < D; ++d) qs[h * D + d] = q[h * D + d] * A[d];
        bias[h] = dot<V>(q + h * D, Bv, D);
      }
      const uint32_t* codes = k.codes + g0 * kl.words;
      float* srow = score + (r * kl.group - t0);
      switch (k.format.bits) {
        case 1: scores_batched<V, 1>(g, codes, D, kl.group, kl.words, qs, bias, srow, len); break;
        case 2: scores_batched<V, 2>(g, codes, D, kl.group, kl.words, qs, bias, srow, len); break;
        case 4: scores_batched<V, 4>(g, codes, D, kl.group, kl.words, qs, bias, srow, len); break;
        default: scores_batched<V, 8>(g, codes, D, kl.group, kl.words, qs, bias, srow, len);
      }
    }
  }
  for (int64_t t = (kend > t0 ? kend : t0); t < t1; ++t) {
    for (int64_t h = 0; h < g; ++h) score[h * len + t - t0] = 0.0f;
    for (int64_t d = 0; d < D; ++d) {
      const float x = operand_element(k, n, t, d);
      for (int64_t h = 0; h < g; ++h) score[h * len + t - t0] += q[h * D + d] * x;
    }
  }

  // Block softmax state per head: mask, max, weights in place of the scores, their sum.
  for (int64_t h = 0; h < g; ++h) {
    float* s = score + h * len;
    if (a.valid) {
      const bool* valid = a.valid + b * T + t0;
      for (int64_t t = 0; t < len; ++t) s[t] = valid[t] ? s[t] : -INFINITY;
    }
    float m = -INFINITY;
    for (int64_t t = 0; t < len; ++t) m = s[t] > m ? s[t] : m;
    float l = 0.0f;
    if (m != -INFINITY) {
      const typename V::F mv = V::set1(m);
      typename V::F lsum = V::zero();
      int64_t t = 0;
      for (; t + V::kLanes <= len; t += V::kLanes) {
        const typename V::F p = V::exp(V::sub(V::load(s + t), mv));
        V::store(s + t, p);
        lsum = V::add(lsum, p);
      }
      l = V::hsum(lsum);
      for (; t < len; ++t) {
        s[t] = s[t] == -INFINITY ? 0.0f : std::exp(s[t] - m);
        l += s[t];
      }
    } else {
      for (int64_t t = 0; t < len; ++t) s[t] = 0.0f;
    }
    st[h * (D + 2)] = m;
    st[h * (D + 2) + 1] = l;
  }
  float* acc = ItemScratch::grow(sc.acc, g * D);
  for (int64_t j = 0; j < g * D; ++j) acc[j] = 0.0f;

  // Values: the packed tokens through the fast path, the rest element by element.
  const PackedOperand& v = a.v;
  const int64_t vend = t1 < v_fast_end ? t1 : v_fast_end;
  if (t0 < vend) {
    const PackedLayout& vl = v.layout;
    const int64_t cols = vl.cols, nv = vend - t0, ng = nv * cols;
    const int64_t g0 = (n * vl.rows + t0) * cols;  // groups [t][c] of the block, contiguous
    float *S = ItemScratch::grow(sc.s, ng), *Z = ItemScratch::grow(sc.z, ng);
    float *A = ItemScratch::grow(sc.a, 2 * ng), *Bv = ItemScratch::grow(sc.b, 2 * ng);
    group_affine(v, g0, ng, S, Z, A, Bv);
    float *At = A + ng, *Bt = Bv + ng;  // [cols, nv]: one group's parameters along tokens
    for (int64_t c = 0; c < cols; ++c)
      for (int64_t t = 0; t < nv; ++t) {
        At[c * nv + t] = A[t * cols + c];
        Bt[c * nv + t] = Bv[t * cols + c];
      }
    float* ps = ItemScratch::grow(sc.ps, g * ng);  // [g, cols, nv]
    for (int64_t h = 0; h < g; ++h) {
      const float* p = score + h * len;
      for (int64_t c = 0; c < cols; ++c) {
        float* out = ps + (h * cols + c) * nv;
        const float* Ac = At + c * nv;
        for (int64_t t = 0; t < nv; ++t) out[t] = p[t] * Ac[t];
        const float bsum = dot<V>(p, Bt + c * nv, nv);  // added to every channel of group c
        for (int64_t d = c * vl.group; d < (c + 1) * vl.group; ++d) acc[h * D + d] += bsum;
      }
    }
    const uint32_t* codes = v.codes + g0 * vl.words;
    switch (v.format.bits) {
      case 1: values_batched<V, 1>(g, codes, nv, D, vl.group, vl.words, ps, acc); break;
      case 2: values_batched<V, 2>(g, codes, nv, D, vl.group, vl.words, ps, acc); break;
      case 4: values_batched<V, 4>(g, codes, nv, D, vl.group, vl.words, ps, acc); break;
      default: values_batched<V, 8>(g, codes, nv, D, vl.group, vl.words, ps, acc);
    }
  }
  for (int64_t t = (vend > t0 ? vend : t0); t < t1; ++t) {
    for (int64_t d = 0; d < D; ++d) {
      const float x = operand_element(v, n, t, d);
      for (int64_t h = 0; h < g; ++h) acc[h * D + d] += score[h * len + t - t0] * x;
    }
  }
  for (int64_t h = 0; h < g; ++h)
    for (int64_t d = 0; d < D; ++d) st[h * (D + 2) + 2 + d] = acc[h * D + d];
}
