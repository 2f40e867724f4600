#pragma once
// Generation over a KV cache: a batch of prompts (left-padded into one prefill), then one token
// per sequence per step, greedy or sampled, until a stop token, a stop string or max_new_tokens.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "lib/cache/kv_cache.h"
#include "models/model.h"

namespace kvmix {

struct GenerateOptions {
  int64_t max_new_tokens = 64;
  std::vector<int64_t> stop_ids;           // e.g. the tokenizer's EOS ids
  std::vector<std::string> stop_strings;   // checked on the decoded continuation
  // Token ids -> text; needed when stop_strings is not empty.
  std::function<std::string(const std::vector<int64_t>&)> detokenize;
  double temperature = 0.0;  // 0: greedy
  int64_t top_k = 0;         // 0: the whole vocabulary
  uint64_t seed = 0;         // sampling stream (per sequence: seed, index)
  int64_t prefill_chunk = 0; // >0: feed the prompt in chunks of this many tokens
};

struct GenerateResult {
  std::vector<std::vector<int64_t>> tokens;  // new tokens per sequence, stop token/string included
  std::vector<std::string> stop_reason;      // "stop_id", "stop_string", "length"
};

// The cache must be fresh (no tokens) and sized for the model.
GenerateResult generate(const Model& m, const std::vector<std::vector<int64_t>>& prompts,
                        KvCache& cache, const GenerateOptions& opt);

}  // namespace kvmix
