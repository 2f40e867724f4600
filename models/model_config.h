#pragma once
// The shape and hyper-parameters of a decoder model, read from a Hugging Face config.json
// (Llama, Mistral and Qwen2 families) or built in code.
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace kvmix {

enum class Architecture { kLlama, kMistral, kQwen2 };

enum class RopeScalingType { kNone, kLinear, kLlama3 };

// rope_scaling of config.json. llama3: Llama 3.1's frequency-dependent scaling
// (factor, low_freq_factor, high_freq_factor, original_max_position_embeddings).
struct RopeScaling {
  RopeScalingType type = RopeScalingType::kNone;
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

struct ModelConfig {
  Architecture arch = Architecture::kLlama;
  std::string model_type = "llama";  // as written in config.json
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;      // query heads
  int64_t num_kv_heads = 0;   // key/value heads (grouped-query when < num_heads)
  int64_t head_dim = 0;       // hidden_size / num_heads unless config.json says otherwise
  int64_t intermediate_size = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool attention_bias = false;   // q/k/v projections carry a bias (Qwen2)
  bool tie_word_embeddings = false;
  int64_t max_position_embeddings = 2048;
  int64_t sliding_window = 0;    // Mistral; 0 = none. Longer contexts are refused, not truncated.
  int64_t bos_token_id = -1;
  std::vector<int64_t> eos_token_ids;
  std::string torch_dtype = "float32";  // dtype of the stored weights

  int64_t queries_per_kv() const { return num_heads / num_kv_heads; }
};

// Parses and validates a config.json object; `source` (a path) names the file in errors.
// Unsupported architectures or fields are errors that say what is unsupported.
ModelConfig parse_model_config(const nlohmann::json& j, const std::string& source);
ModelConfig load_model_config(const std::string& path);

// The config.json a Hugging Face loader accepts for this config.
nlohmann::json model_config_to_json(const ModelConfig& c);

// A stable short hash of the fields that fix the model's shape (provenance in exported configs).
std::string model_config_hash(const ModelConfig& c);

}  // namespace kvmix
