#pragma once
// The files of a Hugging Face safetensors checkpoint folder, and the index of a sharded one
// (model.safetensors.index.json, as transformers' save_pretrained writes it):
//   {"metadata": {"total_size": BYTES}, "weight_map": {"TENSOR":
//   "model-00001-of-00002.safetensors"}}
#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>

namespace kvmix {

constexpr const char* kWeightsFileName = "model.safetensors";
constexpr const char* kShardIndexFileName = "model.safetensors.index.json";

struct ShardIndex {
  std::map<std::string, std::string> weight_map;  // tensor name -> shard file name
  uint64_t total_size = 0;                        // bytes of tensor data in all shards
};

// Validates the index: weight_map an object of strings, each shard a plain file name ending in
// ".safetensors" (no folder part, so an index cannot point outside its checkpoint folder).
// Throws kvmix::Error naming `source`.
ShardIndex parse_shard_index(const nlohmann::json& j, const std::string& source);
ShardIndex load_shard_index(const std::string& path);
nlohmann::json shard_index_to_json(const ShardIndex& index);

// transformers' shard names: model-00001-of-00003.safetensors (1-based).
std::string shard_file_name(int64_t shard, int64_t num_shards);
bool is_shard_file_name(const std::string& name);

}  // namespace kvmix
