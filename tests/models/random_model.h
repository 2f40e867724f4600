#pragma once
// Small random models for tests: any config, deterministic weights.
#include <ATen/ATen.h>

#include "models/model.h"

namespace kvmix::test {

inline ModelConfig tiny_config(bool qwen2_bias = false, bool tied = false, int64_t kv_heads = 2) {
  ModelConfig c;
  c.arch = qwen2_bias ? Architecture::kQwen2 : Architecture::kLlama;
  c.model_type = qwen2_bias ? "qwen2" : "llama";
  c.vocab_size = 97;
  c.hidden_size = 64;
  c.num_layers = 3;
  c.num_heads = 4;
  c.num_kv_heads = kv_heads;
  c.head_dim = 16;
  c.intermediate_size = 96;
  c.rms_norm_eps = 1e-6;
  c.rope_theta = 10000.0;
  c.attention_bias = qwen2_bias;
  c.tie_word_embeddings = tied;
  c.max_position_embeddings = 512;
  c.bos_token_id = 1;
  c.eos_token_ids = {2};
  return c;
}

inline Model random_model(const ModelConfig& c, uint64_t seed = 7) {
  Model m;
  m.config = c;
  m.source = "random test model";
  resize_layers(m.weights, c);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  for (auto& s : tensor_slots(m.weights, c)) {
    *s.tensor = s.is_norm ? 1.0 + 0.1 * at::randn(s.shape, gen, at::kFloat)
                          : 0.08 * at::randn(s.shape, gen, at::kFloat);
  }
  tie_embeddings(m.weights, c);
  return m;
}

// The same model with every weight on `device` in `dtype` (embeddings stay tied).
inline Model on_device(Model m, at::Device device, at::ScalarType dtype = at::kFloat) {
  for (auto& s : tensor_slots(m.weights, m.config)) *s.tensor = s.tensor->to(device, dtype);
  tie_embeddings(m.weights, m.config);
  return m;
}

}  // namespace kvmix::test
