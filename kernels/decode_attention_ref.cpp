// The scalar reference of fused decode attention: for each query head, every key and value
// element is read through attn::operand_element (packed or residual) one at a time, scores are
// softmaxed in fp32 with the maximum subtracted, and the output is the weighted sum of values.
// Obviously correct and slow; the oracle of decode_attention_cpu and decode_attention_cuda.
#include <cmath>
#include <vector>

#include "kernels/decode_attention.h"
#include "kernels/decode_attention_common.h"

namespace kvmix {

void decode_attention_ref(const DecodeAttentionArgs& a) {
  const int64_t T = a.tokens(), D = a.head_dim, group = a.q_heads / a.kv_heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  std::vector<float> q(static_cast<size_t>(D)), score(static_cast<size_t>(T)), out(q);
  for (int64_t b = 0; b < a.batch; ++b) {
    for (int64_t h = 0; h < a.q_heads; ++h) {
      const int64_t n = b * a.kv_heads + h / group;  // the KV slice this head reads
      for (int64_t d = 0; d < D; ++d)
        q[d] = qmath::load_elem(a.q, a.q_type, (b * a.q_heads + h) * D + d);
      float m = -INFINITY;
      for (int64_t t = 0; t < T; ++t) {
        if (a.valid && !a.valid[b * T + t]) {
          score[t] = -INFINITY;
          continue;
        }
        float dot = 0.0f;
        for (int64_t d = 0; d < D; ++d) dot += q[d] * attn::operand_element(a.k, n, t, d);
        score[t] = dot * scale;
        m = score[t] > m ? score[t] : m;
      }
      for (int64_t d = 0; d < D; ++d) out[d] = 0.0f;
      if (m != -INFINITY) {  // else every token is masked: the output stays 0
        float sum = 0.0f;
        for (int64_t t = 0; t < T; ++t) {
          score[t] = score[t] == -INFINITY ? 0.0f : std::exp(score[t] - m);
          sum += score[t];
        }
        for (int64_t t = 0; t < T; ++t) {
          if (score[t] == 0.0f) continue;
          for (int64_t d = 0; d < D; ++d) out[d] += score[t] * attn::operand_element(a.v, n, t, d);
        }
        for (int64_t d = 0; d < D; ++d) out[d] /= sum;
      }
      for (int64_t d = 0; d < D; ++d)
        qmath::store_elem(a.out, a.out_type, (b * a.q_heads + h) * D + d, out[d]);
    }
  }
}

}  // namespace kvmix
