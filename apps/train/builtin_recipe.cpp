#include "apps/train/builtin_recipe.h"

#include "apps/train/builtin_vocab.h"

namespace kvmix::builtin {

ModelConfig builtin_config() {
  ModelConfig c;
  c.arch = Architecture::kLlama;
  c.model_type = "llama";
  c.vocab_size = kVocab;
  c.hidden_size = 128;
  c.num_layers = 8;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.head_dim = 32;
  c.intermediate_size = 384;
  c.rms_norm_eps = 1e-5;
  c.rope_theta = 10000.0;
  c.tie_word_embeddings = true;
  c.max_position_embeddings = 2048;
  c.bos_token_id = kBos;
  c.eos_token_ids = {kEos};
  c.torch_dtype = "float32";
  return c;
}

int64_t curriculum_seq_len(int64_t step, int64_t total) {
  const double f = static_cast<double>(step) / static_cast<double>(total);
  if (f < 0.5) return 256;
  if (f < 0.8) return 512;
  return 1024;
}

}  // namespace kvmix::builtin
