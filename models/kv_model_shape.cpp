#include "models/kv_model_shape.h"

namespace kvmix {

KvModelShape kv_model_shape(const ModelConfig& c) {
  KvModelShape s;
  s.architecture = c.model_type;
  s.layers = c.num_layers;
  s.q_heads = c.num_heads;
  s.kv_heads = c.num_kv_heads;
  s.head_dim = c.head_dim;
  s.config_hash = model_config_hash(c);
  return s;
}

}  // namespace kvmix
