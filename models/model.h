#pragma once
// A loaded model: its config, its tensors, and where it came from.
#include <string>

#include "models/model_config.h"
#include "models/model_weights.h"

namespace kvmix {

struct Model {
  ModelConfig config;
  ModelWeights weights;
  std::string source;  // the checkpoint folder, or a description for generated models
};

}  // namespace kvmix
