#pragma once
// The KV-relevant shape of a model (lib/kv_config.h KvModelShape) from its config: what a
// per-layer KV config is written for and checked against.
#include "lib/kv_config.h"         // KvModelShape
#include "models/model_config.h"  // ModelConfig

namespace kvmix {

KvModelShape kv_model_shape(const ModelConfig& c);

}  // namespace kvmix
