// save_model (declared in models/loader.h): the folder layout transformers' save_pretrained
// writes, so a checkpoint kvmix saves loads in transformers and back in kvmix.
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "lib/io/atomic_file.h"  // write_file_atomic
#include "base/error.h"
#include "lib/io/safetensors.h"
#include "models/checkpoint_index.h"
#include "models/loader.h"
#include "models/torch_dtype.h"

namespace kvmix {
namespace {

namespace fs = std::filesystem;

// transformers refuses safetensors weights whose metadata lacks a known "format"
// (modeling_utils.py, load_state_dict); "pt" marks PyTorch tensors.
const std::map<std::string, std::string> kWeightsMetadata = {{"format", "pt"}};

// The model's tensors in checkpoint order, each checked against the shape the config implies.
std::vector<NamedTensor> named_tensors(const ModelConfig& c, const ModelWeights& weights) {
  KVMIX_CHECK(static_cast<int64_t>(weights.layers.size()) == c.num_layers,
              "save_model: weights have {} layers but the config has {}", weights.layers.size(),
              c.num_layers);
  ModelWeights w = weights;  // tensor_slots wants a mutable struct; this copies handles only
  std::vector<NamedTensor> out;
  for (const TensorSlot& s : tensor_slots(w, c)) {
    KVMIX_CHECK(s.tensor->defined(), "save_model: tensor '{}' is undefined", s.name);
    KVMIX_CHECK(s.tensor->sizes().vec() == s.shape,
                "save_model: tensor '{}' has shape [{}] but the config implies [{}]", s.name,
                fmt::join(s.tensor->sizes(), ", "), fmt::join(s.shape, ", "));
    out.push_back({s.name, *s.tensor});
  }
  return out;
}

// Greedy in checkpoint order, as transformers' shard_checkpoint: a shard closes when the next
// tensor would take it past the limit; a tensor larger than the limit gets a shard alone.
std::vector<std::vector<NamedTensor>> split_shards(const std::vector<NamedTensor>& tensors,
                                                   int64_t element_bytes, int64_t max_bytes) {
  std::vector<std::vector<NamedTensor>> shards(1);
  int64_t used = 0;
  for (const NamedTensor& t : tensors) {
    const int64_t bytes = t.tensor.numel() * element_bytes;
    if (!shards.back().empty() && used + bytes > max_bytes) {
      shards.emplace_back();
      used = 0;
    }
    shards.back().push_back(t);
    used += bytes;
  }
  return shards;
}

void remove_file(const fs::path& p) {
  std::error_code ec;
  fs::remove(p, ec);
  KVMIX_CHECK(!ec, "{}: cannot remove stale file: {}", p.string(), ec.message());
}

// Removes weights files an earlier save left that the new layout does not use, so the folder
// never holds two disagreeing sets of weights.
void remove_stale_weights(const fs::path& dir, const std::set<std::string>& written) {
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    const bool weights =
        name == kWeightsFileName || name == kShardIndexFileName || is_shard_file_name(name);
    if (weights && !written.count(name)) remove_file(entry.path());
  }
}

// The token ids transformers' generate() reads, in config.json's spelling.
nlohmann::json generation_config_json(const nlohmann::json& config) {
  return {{"bos_token_id", config["bos_token_id"]}, {"eos_token_id", config["eos_token_id"]}};
}

}  // namespace

void save_model(const std::string& dir, const ModelConfig& config, const ModelWeights& weights,
                at::ScalarType storage_dtype, int64_t max_shard_bytes) {
  KVMIX_CHECK(max_shard_bytes >= 0, "save_model: max_shard_bytes {} is negative", max_shard_bytes);
  ModelConfig stored = config;
  stored.torch_dtype = torch_dtype_name(storage_dtype);
  const nlohmann::json config_json = model_config_to_json(stored);  // validates the config
  const std::vector<NamedTensor> tensors = named_tensors(config, weights);
  std::error_code ec;
  fs::create_directories(dir, ec);
  KVMIX_CHECK(!ec, "{}: cannot create folder: {}", dir, ec.message());

  const int64_t element_bytes = c10::elementSize(storage_dtype);
  int64_t total = 0;
  for (const NamedTensor& t : tensors) total += t.tensor.numel() * element_bytes;
  std::set<std::string> written;
  if (max_shard_bytes == 0 || total <= max_shard_bytes) {
    write_safetensors(dir + "/" + kWeightsFileName, tensors, kWeightsMetadata, storage_dtype);
    written.insert(kWeightsFileName);
  } else {
    const auto shards = split_shards(tensors, element_bytes, max_shard_bytes);
    ShardIndex index;
    index.total_size = static_cast<uint64_t>(total);
    for (size_t i = 0; i < shards.size(); ++i) {
      const std::string name =
          shard_file_name(static_cast<int64_t>(i) + 1, static_cast<int64_t>(shards.size()));
      write_safetensors(dir + "/" + name, shards[i], kWeightsMetadata, storage_dtype);
      for (const NamedTensor& t : shards[i]) index.weight_map[t.name] = name;
      written.insert(name);
    }
    // Last, so a reader never finds an index naming shards that are not there yet.
    write_file_atomic(dir + "/" + kShardIndexFileName, shard_index_to_json(index).dump(2) + "\n");
    written.insert(kShardIndexFileName);
  }
  remove_stale_weights(dir, written);
  write_file_atomic(dir + "/config.json", config_json.dump(2) + "\n");
  write_file_atomic(dir + "/generation_config.json",
                    generation_config_json(config_json).dump(2) + "\n");
}

}  // namespace kvmix
