#include "models/model_kv_shape.h"

namespace kvmix {

KvShape kv_shape(const ModelConfig& c, int model_dtype_bytes) {
  KvShape s;
  s.architecture = c.model_type;
  s.layers = c.num_layers;
  s.q_heads = c.num_heads;
  s.kv_heads = c.num_kv_heads;
  s.head_dim = c.head_dim;
  s.model_dtype_bytes = model_dtype_bytes;
  s.config_hash = model_config_hash(c);
  return s;
}

}  // namespace kvmix
