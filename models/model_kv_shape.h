#pragma once
// The KvShape (lib/kv_shape.h) of a model from its config: what its caches are built for, and what
// the per-layer configs, profiles and fronts written for it carry and are checked against.
#include "lib/kv_shape.h"
#include "models/model_config.h"

namespace kvmix {

// model_dtype_bytes: bytes per element of unquantized K/V in a serving engine (2: fp16, bf16).
KvShape kv_shape(const ModelConfig& c, int model_dtype_bytes = 2);

}  // namespace kvmix
