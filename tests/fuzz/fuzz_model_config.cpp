// libFuzzer target: parse_model_config on arbitrary JSON. For a bad config the expected outcome
// is a kvmix::Error; a crash, a sanitizer report or another exception escaping is a bug. A
// config that parses must survive model_config_to_json and parse back to the same fields (the
// property save_model relies on). Crashes go to tests/fuzz/regressions/model_config/.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "models/model_config.h"

namespace {

bool same(const kvmix::ModelConfig& a, const kvmix::ModelConfig& b) {
  const auto& r = a.rope_scaling;
  const auto& s = b.rope_scaling;
  return a.arch == b.arch && a.vocab_size == b.vocab_size && a.hidden_size == b.hidden_size &&
         a.num_layers == b.num_layers && a.num_heads == b.num_heads &&
         a.num_kv_heads == b.num_kv_heads && a.head_dim == b.head_dim &&
         a.intermediate_size == b.intermediate_size && a.rms_norm_eps == b.rms_norm_eps &&
         a.rope_theta == b.rope_theta && r.type == s.type && r.factor == s.factor &&
         r.low_freq_factor == s.low_freq_factor && r.high_freq_factor == s.high_freq_factor &&
         r.original_max_position_embeddings == s.original_max_position_embeddings &&
         a.attention_bias == b.attention_bias && a.tie_word_embeddings == b.tie_word_embeddings &&
         a.max_position_embeddings == b.max_position_embeddings &&
         a.sliding_window == b.sliding_window && a.bos_token_id == b.bos_token_id &&
         a.eos_token_ids == b.eos_token_ids && a.torch_dtype == b.torch_dtype &&
         kvmix::model_config_hash(a) == kvmix::model_config_hash(b);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kvmix;
  const nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr,
                                                 /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  ModelConfig c;
  try {
    c = parse_model_config(j, "fuzz-input");
  } catch (const Error&) {
    return 0;
  }
  const ModelConfig back = parse_model_config(model_config_to_json(c), "round-trip");
  KVMIX_ASSERT(same(c, back), "config changed through model_config_to_json");
  return 0;
}
