// ModelConfig -> config.json (what transformers' LlamaForCausalLM, MistralForCausalLM and
// Qwen2ForCausalLM read), and the short hash that names a model shape in exported configs.
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "models/model_config.h"
#include "models/model_config_rules.h"

namespace kvmix {
namespace {

using nlohmann::json;

json rope_scaling_json(const RopeScaling& r) {
  switch (r.type) {
    case RopeScalingType::kNone:
      return nullptr;
    // Both keys: "type" for transformers < 4.43, "rope_type" for later versions.
    case RopeScalingType::kLinear:
      return {{"type", "linear"}, {"rope_type", "linear"}, {"factor", r.factor}};
    case RopeScalingType::kLlama3:  // only transformers >= 4.43 knows llama3
      return {{"rope_type", "llama3"},
              {"factor", r.factor},
              {"low_freq_factor", r.low_freq_factor},
              {"high_freq_factor", r.high_freq_factor},
              {"original_max_position_embeddings", r.original_max_position_embeddings}};
  }
  KVMIX_ASSERT(false, "rope scaling type {} not handled", static_cast<int>(r.type));
}

// FNV-1a, 64-bit (Fowler, Noll, Vo; offset basis and prime from the reference description):
// stable across platforms and runs, unlike std::hash.
uint64_t fnv1a64(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char ch : s) {
    h ^= ch;
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace

json model_config_to_json(const ModelConfig& c) {
  validate_model_config(c, "model config");
  const ArchitectureInfo& a = architecture_info(c.arch);
  json j = {
      {"architectures", {a.class_name}},
      {"model_type", a.model_type},
      {"vocab_size", c.vocab_size},
      {"hidden_size", c.hidden_size},
      {"intermediate_size", c.intermediate_size},
      {"num_hidden_layers", c.num_layers},
      {"num_attention_heads", c.num_heads},
      {"num_key_value_heads", c.num_kv_heads},
      {"head_dim", c.head_dim},
      {"hidden_act", "silu"},
      {"max_position_embeddings", c.max_position_embeddings},
      {"rms_norm_eps", c.rms_norm_eps},
      {"rope_theta", c.rope_theta},
      {"rope_scaling", rope_scaling_json(c.rope_scaling)},
      {"tie_word_embeddings", c.tie_word_embeddings},
      {"torch_dtype", c.torch_dtype},
      {"use_cache", true},
  };
  j["bos_token_id"] = c.bos_token_id >= 0 ? json(c.bos_token_id) : json(nullptr);
  j["eos_token_id"] = c.eos_token_ids.empty()       ? json(nullptr)
                      : c.eos_token_ids.size() == 1 ? json(c.eos_token_ids[0])
                                                    : json(c.eos_token_ids);
  const json window = c.sliding_window > 0 ? json(c.sliding_window) : json(nullptr);
  switch (c.arch) {
    case Architecture::kLlama:
      j["attention_bias"] = false;
      j["mlp_bias"] = false;
      break;
    case Architecture::kMistral:
      j["sliding_window"] = window;
      break;
    case Architecture::kQwen2:  // one window for every layer: windowing starts at layer 0
      j["use_sliding_window"] = c.sliding_window > 0;
      j["sliding_window"] = window;
      j["max_window_layers"] = c.sliding_window > 0 ? 0 : c.num_layers;
      break;
  }
  return j;
}

// The fields that fix the tensors' names and shapes, in a versioned canonical text. Numerics
// (eps, RoPE, dtype) are left out on purpose: they do not change which checkpoint fits.
std::string model_config_hash(const ModelConfig& c) {
  const std::string canonical = fmt::format(
      "kvmix-model-shape-v1;type={};vocab={};hidden={};layers={};heads={};kv_heads={};"
      "head_dim={};intermediate={};qkv_bias={};tied={}",
      architecture_info(c.arch).model_type, c.vocab_size, c.hidden_size, c.num_layers, c.num_heads,
      c.num_kv_heads, c.head_dim, c.intermediate_size, int{c.attention_bias},
      int{c.tie_word_embeddings});
  return fmt::format("{:016x}", fnv1a64(canonical));
}

}  // namespace kvmix
