#pragma once
// The forward pass of the Llama family (Llama, Mistral, Qwen2): RMSNorm, grouped-query attention
// with RoPE (Qwen2's qkv bias when present), SwiGLU MLP. Attention goes through a KvCache, so the
// same function runs full precision, fake-quant, packed and eviction caches.
#include <ATen/core/Tensor.h>

#include "lib/cache/kv_cache.h"
#include "models/model.h"
#include "models/model_kv_shape.h"  // kv_shape: the shape a cache for the model needs

namespace kvmix {

struct ForwardOptions {
  bool last_logits_only = false;  // compute logits for the last slot only (generation)
};

// tokens [B, T] int64; valid [B, T] bool or undefined (all valid), on any device (they are moved
// to the model's). With cache == nullptr this is a plain causal forward over the T tokens
// (training, and the oracle for the caches); otherwise the tokens are a step appended to the
// cache. Returns logits [B, T, vocab] (or [B, 1, vocab]) fp32, on the model's device.
at::Tensor forward(const Model& m, const at::Tensor& tokens, const at::Tensor& valid,
                   KvCache* cache, const ForwardOptions& opt = {});

// The pieces of forward(), for callers that run a range of layers themselves (the profiler reuses
// the hidden states entering layer l to re-run only layers l.. under a quantized layer l).
struct StepRope {
  at::Tensor cos, sin;  // [B, 1, T, D]
};
StepRope step_rope(const ModelConfig& c, const at::Tensor& positions);  // positions [B, T]
at::Tensor embed_tokens(const Model& m, const at::Tensor& tokens);    // [B, T, hidden] on m's device
// Layers [first, last) on hidden x [B, T, hidden]; attention through `cache`, or plain causal
// attention over the T tokens (with key validity `valid`, may be undefined) when cache is null.
at::Tensor run_layers(const Model& m, at::Tensor x, int64_t first, int64_t last, const StepRope& rope,
                      const at::Tensor& valid, KvCache* cache);
// Final norm and LM head: logits [B, T, vocab] (or the last slot only) in fp32.
at::Tensor output_logits(const Model& m, at::Tensor x, bool last_only);

// RMSNorm (arXiv 1910.07467) as Hugging Face computes it: in fp32, then the gain in x's dtype.
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& gain, double eps);

}  // namespace kvmix
