#pragma once
// The tiny model the search tests profile and search: the random 3-layer, 2-KV-head model of
// tests/models/random_model.h with heads of 32 (KIVI's per-token value groups of 32 must divide
// them) over the byte-level fixture tokenizer, so the generated tasks tokenize as they do for the
// built-in model.
#include "lib/tokenizer/tokenizer.h"
#include "tests/models/random_model.h"

namespace kvmix::test {

inline const Tokenizer& byte_tokenizer() {
  static const Tokenizer t = Tokenizer::from_file(
      KVMIX_SOURCE_DIR "/tests/fixtures/tokenizer/byte_level_minimal/tokenizer.json");
  return t;
}

inline ModelConfig byte_model_config() {
  auto cfg = tiny_config(false, false, 2);  // 3 layers, 2 KV heads
  cfg.vocab_size = byte_tokenizer().vocab_size();
  cfg.hidden_size = 128;  // head_dim 32
  cfg.head_dim = 32;
  return cfg;
}

}  // namespace kvmix::test
