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

// Where the model's weights live, and so where every tensor of its forward pass, caches and
// scores is made (DESIGN.md, "Devices").
inline at::Device model_device(const Model& m) { return m.weights.embed.device(); }

}  // namespace kvmix
