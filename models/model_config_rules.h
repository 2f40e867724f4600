#pragma once
// What kvmix knows about each supported family (names, transformers' defaults) and what makes a
// ModelConfig valid. Shared by the config.json parser and writer, so a config kvmix writes is
// always one it would read back.
#include <cstdint>
#include <string>

#include "models/model_config.h"

namespace kvmix {

struct ArchitectureInfo {
  Architecture arch;
  const char* model_type;         // config.json "model_type"
  const char* class_name;         // config.json "architectures"[0]
  int64_t default_max_positions;  // transformers' default max_position_embeddings
};

// nullptr when `model_type` is not a supported family.
const ArchitectureInfo* find_architecture(const std::string& model_type);
const ArchitectureInfo& architecture_info(Architecture arch);

// transformers' defaults (LlamaConfig, MistralConfig, Qwen2Config agree on these two).
constexpr double kDefaultRmsNormEps = 1e-6;
constexpr double kDefaultRopeTheta = 10000.0;
constexpr int64_t kMistralDefaultSlidingWindow = 4096;  // MistralConfig(sliding_window=4096)
constexpr int64_t kQwen2DefaultMaxWindowLayers = 28;    // Qwen2Config(max_window_layers=28)

// Upper bound on every size field (vocab, hidden, heads, head_dim, layers, intermediate): 2^24
// is 64x the largest in use (hidden 16384, vocab 256k) and keeps products of two sizes, such
// as a weight's element count, far below 2^63.
constexpr int64_t kMaxModelDim = int64_t{1} << 24;

// Throws kvmix::Error naming `source` and the config.json field at fault.
void validate_model_config(const ModelConfig& c, const std::string& source);

}  // namespace kvmix
