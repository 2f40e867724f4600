#pragma once
// The built-in model's shape and training schedule: the one place that says what it is.
#include <cstdint>
#include <string>

#include "models/model.h"

namespace kvmix::builtin {

// Llama architecture: 8 layers, d_model 128, 4 query heads sharing 2 KV heads (2 queries per KV
// head), head_dim 32, SwiGLU 384, RoPE theta 10000, tied embeddings, 259-token byte vocabulary.
// About 1.6M parameters: small enough to train on two CPU cores, deep enough for layer-wise
// sensitivity to mean something.
ModelConfig builtin_config();

// Curriculum: 256-token rows for the first half of training, 512 until 80%, then 1024.
int64_t curriculum_seq_len(int64_t step, int64_t total_steps);

}  // namespace kvmix::builtin
