#include "models/model_config_rules.h"

#include <cmath>

#include "base/error.h"

namespace kvmix {
namespace {

constexpr ArchitectureInfo kArchitectures[] = {
    {Architecture::kLlama, "llama", "LlamaForCausalLM", 2048},
    {Architecture::kMistral, "mistral", "MistralForCausalLM", 4096 * 32},
    {Architecture::kQwen2, "qwen2", "Qwen2ForCausalLM", 32768},
};

void check_size(int64_t v, const char* field, const std::string& source) {
  KVMIX_CHECK(v > 0 && v <= kMaxModelDim, "{}: field '{}' must be in [1, {}], got {}", source,
              field, kMaxModelDim, v);
}

void check_positive(double v, const char* field, const std::string& source) {
  KVMIX_CHECK(std::isfinite(v) && v > 0, "{}: field '{}' must be a positive number, got {}", source,
              field, v);
}

// RoPE's base: channel pair i turns at theta^(-2i/head_dim) per position, so a base of 1 or less
// makes the frequencies grow instead of fall (1e-300 overflows them to inf: every logit NaN).
// Checkpoints use 1e4 to 1e7.
void check_rope_theta(double theta, const std::string& source) {
  check_positive(theta, "rope_theta", source);
  KVMIX_CHECK(theta > 1.0, "{}: field 'rope_theta' must be greater than 1 (the RoPE base; "
              "checkpoints use 1e4 to 1e7), got {}", source, theta);
}

// eps is added to the mean square in fp32: below 1e-12 it vanishes against any real activation
// and a zero vector divides by 0 (NaN); above 1 it swamps the activations. Checkpoints use 1e-6
// or 1e-5.
void check_rms_norm_eps(double eps, const std::string& source) {
  check_positive(eps, "rms_norm_eps", source);
  KVMIX_CHECK(eps >= 1e-12 && eps <= 1.0,
              "{}: field 'rms_norm_eps' must be in [1e-12, 1] (checkpoints use 1e-6 or 1e-5), got {}",
              source, eps);
}

// Scaling stretches positions by `factor`: below 1 it would compress them instead, and a tiny
// factor overflows the frequencies (transformers also requires factor >= 1).
void check_scaling_factor(double factor, const std::string& source) {
  check_positive(factor, "rope_scaling.factor", source);
  KVMIX_CHECK(factor >= 1.0, "{}: field 'rope_scaling.factor' must be at least 1, got {}", source,
              factor);
}

void check_token(int64_t id, const char* field, int64_t vocab, const std::string& source) {
  KVMIX_CHECK(id >= 0 && id < vocab, "{}: field '{}' {} is outside the vocabulary [0, {})", source,
              field, id, vocab);
}

void validate_rope_scaling(const RopeScaling& r, const std::string& source) {
  if (r.type == RopeScalingType::kNone) return;
  check_scaling_factor(r.factor, source);
  if (r.type != RopeScalingType::kLlama3) return;
  check_positive(r.low_freq_factor, "rope_scaling.low_freq_factor", source);
  // Llama 3.1 interpolates with (L / wavelength - low) / (high - low): high must exceed low.
  KVMIX_CHECK(std::isfinite(r.high_freq_factor) && r.high_freq_factor > r.low_freq_factor,
              "{}: rope_scaling.high_freq_factor {} must exceed low_freq_factor {}", source,
              r.high_freq_factor, r.low_freq_factor);
  KVMIX_CHECK(r.original_max_position_embeddings > 0,
              "{}: rope_scaling.original_max_position_embeddings must be positive, got {}", source,
              r.original_max_position_embeddings);
}

}  // namespace

const ArchitectureInfo* find_architecture(const std::string& model_type) {
  for (const auto& a : kArchitectures)
    if (model_type == a.model_type) return &a;
  return nullptr;
}

const ArchitectureInfo& architecture_info(Architecture arch) {
  for (const auto& a : kArchitectures)
    if (a.arch == arch) return a;
  KVMIX_ASSERT(false, "architecture {} missing from kArchitectures", static_cast<int>(arch));
}

void validate_model_config(const ModelConfig& c, const std::string& source) {
  check_size(c.vocab_size, "vocab_size", source);
  check_size(c.hidden_size, "hidden_size", source);
  check_size(c.num_layers, "num_hidden_layers", source);
  check_size(c.num_heads, "num_attention_heads", source);
  check_size(c.num_kv_heads, "num_key_value_heads", source);
  check_size(c.head_dim, "head_dim", source);
  check_size(c.intermediate_size, "intermediate_size", source);
  KVMIX_CHECK(c.num_heads % c.num_kv_heads == 0,
              "{}: num_attention_heads {} is not a multiple of num_key_value_heads {}", source,
              c.num_heads, c.num_kv_heads);
  // RoPE rotates channel pairs (i, i + head_dim/2).
  KVMIX_CHECK(c.head_dim % 2 == 0, "{}: head_dim {} must be even for rotary embeddings", source,
              c.head_dim);
  check_rms_norm_eps(c.rms_norm_eps, source);
  check_rope_theta(c.rope_theta, source);
  validate_rope_scaling(c.rope_scaling, source);
  KVMIX_CHECK(c.attention_bias == (c.arch == Architecture::kQwen2),
              "{}: attention_bias {} does not fit model_type '{}' (q/k/v biases are Qwen2's)",
              source, c.attention_bias, architecture_info(c.arch).model_type);
  KVMIX_CHECK(c.max_position_embeddings > 0,
              "{}: field 'max_position_embeddings' must be positive, got {}", source,
              c.max_position_embeddings);
  KVMIX_CHECK(c.sliding_window >= 0, "{}: field 'sliding_window' must be positive or null, got {}",
              source, c.sliding_window);
  if (c.bos_token_id != -1) check_token(c.bos_token_id, "bos_token_id", c.vocab_size, source);
  for (int64_t id : c.eos_token_ids) check_token(id, "eos_token_id", c.vocab_size, source);
  KVMIX_CHECK(
      c.torch_dtype == "float32" || c.torch_dtype == "float16" || c.torch_dtype == "bfloat16",
      "{}: torch_dtype '{}' is not supported (float32, float16, bfloat16)", source, c.torch_dtype);
}

}  // namespace kvmix
