// Fused decode attention on CUDA, mirroring the reference (kernels/decode_attention_ref.cpp): one thread
// block per (batch, query head). Threads stride over tokens for the scores (each reads its key
// through attn::operand_element, packed or residual, never materializing K), reduce the maximum
// and the sum of e^(s - max) over the block, then stride over channels for the weighted sum of
// values. Scores live in a workspace of B * Hq * T floats.
#include <cmath>

#include "kernels/decode_attention.h"
#include "kernels/decode_attention_common.h"
#include "kernels/cuda_check.h"

namespace kvmix {

namespace {

constexpr int kThreads = 256;

__device__ float block_reduce(float v, float* shared, bool is_max) {
  shared[threadIdx.x] = v;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) {
      const float o = shared[threadIdx.x + s];
      shared[threadIdx.x] = is_max ? (o > shared[threadIdx.x] ? o : shared[threadIdx.x])
                                   : shared[threadIdx.x] + o;
    }
    __syncthreads();
  }
  const float r = shared[0];
  __syncthreads();
  return r;
}

__global__ void decode_attention_kernel(DecodeAttentionArgs a, float* scores) {
  extern __shared__ float q[];  // [D], then kThreads floats for reductions
  float* red = q + a.head_dim;
  const int64_t b = blockIdx.x / a.q_heads, h = blockIdx.x % a.q_heads;
  const int64_t T = a.tokens(), D = a.head_dim, group = a.q_heads / a.kv_heads;
  const int64_t n = b * a.kv_heads + h / group;
  const float scale = 1.0f / sqrtf(static_cast<float>(D));
  float* score = scores + blockIdx.x * T;
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x)
    q[d] = qmath::load_elem(a.q, a.q_type, (b * a.q_heads + h) * D + d);
  __syncthreads();

  float m = -INFINITY;
  for (int64_t t = threadIdx.x; t < T; t += blockDim.x) {
    if (a.valid && !a.valid[b * T + t]) {
      score[t] = -INFINITY;
      continue;
    }
    float dot = 0.0f;
    for (int64_t d = 0; d < D; ++d) dot += q[d] * attn::operand_element(a.k, n, t, d);
    score[t] = dot * scale;
    m = score[t] > m ? score[t] : m;
  }
  m = block_reduce(m, red, true);

  float sum = 0.0f;
  if (m != -INFINITY) {
    for (int64_t t = threadIdx.x; t < T; t += blockDim.x) {
      score[t] = score[t] == -INFINITY ? 0.0f : expf(score[t] - m);
      sum += score[t];
    }
  }
  sum = block_reduce(sum, red, false);  // also orders the score writes before the reads below

  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
    float out = 0.0f;
    if (m != -INFINITY) {
      for (int64_t t = 0; t < T; ++t)
        if (score[t] != 0.0f) out += score[t] * attn::operand_element(a.v, n, t, d);
      out /= sum;
    }
    qmath::store_elem(a.out, a.out_type, (b * a.q_heads + h) * D + d, out);
  }
}

}  // namespace

int64_t decode_attention_workspace_bytes(const DecodeAttentionArgs& a) {
  return a.batch * a.q_heads * a.tokens() * static_cast<int64_t>(sizeof(float));
}

void decode_attention_cuda(const DecodeAttentionArgs& a, void* workspace, void* stream) {
  const int64_t blocks = a.batch * a.q_heads;
  if (blocks == 0) return;
  const size_t shared = static_cast<size_t>(a.head_dim + kThreads) * sizeof(float);
  decode_attention_kernel<<<static_cast<unsigned>(blocks), kThreads, shared,
                            static_cast<cudaStream_t>(stream)>>>(a, static_cast<float*>(workspace));
  CUDA_CHECK_LAUNCH();
}

}  // namespace kvmix
