#pragma once
// Hugging Face checkpoint folders <-> (ModelConfig, ModelWeights): config.json with
// model.safetensors, or with shards listed in model.safetensors.index.json.
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <string>

#include "models/model_config.h"   // ModelConfig
#include "models/model_weights.h"  // ModelWeights

namespace kvmix {

struct LoadedModel {
  ModelConfig config;
  ModelWeights weights;  // on the device, in the compute dtype; lm_head aliases embed when tied
  std::string dir;       // the checkpoint folder it came from
};

// Reads and checks a checkpoint folder. Every tensor tensor_slots() lists must be present with
// its shape and with the dtype config.json's torch_dtype names, and finite; all shapes and dtypes
// are checked before any tensor data is read. Tensors a checkpoint may carry harmlessly are
// skipped: rotary inv_freq buffers (recomputed from rope_theta) and, for tied models, an
// lm_head.weight equal to the embedding. Any other tensor is an error, since it means the
// config does not describe these weights. compute_dtype: at::kFloat, at::kBFloat16 or at::kHalf.
// Each tensor goes to `device` in its stored dtype and is converted there, one at a time: the
// only host copy is one tensor as stored, never the whole model (an 8B bf16 checkpoint would be
// 32 GB as a CPU fp32 copy). Throws kvmix::Error naming the file and the tensor at fault.
LoadedModel load_model(const std::string& dir, at::ScalarType compute_dtype,
                       at::Device device = at::Device(at::kCPU));

// Writes config.json, generation_config.json and the weights in `storage_dtype` (F32, F16 or
// BF16; config.json's torch_dtype says which) to `dir`, creating it. One model.safetensors, or,
// when max_shard_bytes > 0 and the tensors exceed it, shards of at most max_shard_bytes each (a
// larger tensor gets a shard of its own) with model.safetensors.index.json. Each file is written
// atomically; weights files of the other layout left from an earlier save are removed.
void save_model(const std::string& dir, const ModelConfig& config, const ModelWeights& weights,
                at::ScalarType storage_dtype, int64_t max_shard_bytes = 0);

}  // namespace kvmix
