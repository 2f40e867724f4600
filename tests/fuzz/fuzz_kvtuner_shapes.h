#pragma once
// What fuzz_kvtuner_yaml imports its inputs for, shared with the test that replays them
// (tests/fuzz/fuzz_corpus_replay_test.cpp): input files are one selector byte, then the YAML.
// Bit 0 picks the scheme, bits 1-2 the model: Llama-3.1-8B and Qwen2.5-7B (the shapes of the two
// presets in tests/fixtures/kvtuner/), kvmix's built-in model, and a head_dim of 48, which kivi's
// groups of 32 do not divide.
#include <cstdint>

#include "lib/kv_pair.h"
#include "lib/kv_shape.h"

namespace kvmix::fuzz {

inline Scheme kvtuner_scheme(uint8_t selector) {
  return selector & 1 ? Scheme::kPerToken : Scheme::kKivi;
}

inline KvShape kvtuner_shape(uint8_t selector) {
  KvShape s;
  struct Row {
    const char* architecture;
    int64_t layers, q_heads, kv_heads, head_dim;
  };
  static constexpr Row kRows[] = {
      {"llama", 32, 32, 8, 128},
      {"qwen2", 28, 28, 4, 128},
      {"llama", 8, 4, 2, 32},
      {"llama", 2, 2, 1, 48},
  };
  const Row& r = kRows[(selector >> 1) & 3];
  s.architecture = r.architecture;
  s.layers = r.layers;
  s.q_heads = r.q_heads;
  s.kv_heads = r.kv_heads;
  s.head_dim = r.head_dim;
  return s;
}

}  // namespace kvmix::fuzz
