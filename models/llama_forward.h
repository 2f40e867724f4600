#pragma once
// The forward pass of the Llama family (Llama, Mistral, Qwen2): RMSNorm, grouped-query attention
// with RoPE (Qwen2's qkv bias when present), SwiGLU MLP. Attention goes through a KvCache, so the
// same function runs full precision, fake-quant, packed and eviction caches.
#include <ATen/core/Tensor.h>

#include "lib/kv_cache.h"
#include "models/model.h"

namespace kvmix {

struct ForwardOptions {
  bool last_logits_only = false;  // compute logits for the last slot only (generation)
};

// tokens [B, T] int64; valid [B, T] bool or undefined (all valid). With cache == nullptr this is
// a plain causal forward over the T tokens (training, and the oracle for the caches); otherwise the
// tokens are a step appended to the cache. Returns logits [B, T, vocab] (or [B, 1, vocab]) fp32.
at::Tensor forward(const Model& m, const at::Tensor& tokens, const at::Tensor& valid,
                   KvCache* cache, const ForwardOptions& opt = {});

// RMSNorm (arXiv 1910.07467) as Hugging Face computes it: in fp32, then the gain in x's dtype.
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& gain, double eps);

// The KvShape a cache for this model needs.
KvShape kv_shape(const ModelConfig& c, int model_dtype_bytes = 2);

}  // namespace kvmix
