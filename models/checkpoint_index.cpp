#include "models/checkpoint_index.h"

#include <nlohmann/json.hpp>
#include <regex>

#include "lib/io/atomic_file.h"  // read_file
#include "lib/io/json_file.h"
#include "base/error.h"
#include "lib/io/json_describe.h"  // describe_json

namespace kvmix {
namespace {

constexpr const char* kShardSuffix = ".safetensors";

bool is_plain_safetensors_name(const std::string& s) {
  const size_t suffix = std::char_traits<char>::length(kShardSuffix);
  return s.size() > suffix && s.compare(s.size() - suffix, suffix, kShardSuffix) == 0 &&
         s.find('/') == std::string::npos && s.find('\0') == std::string::npos && s[0] != '.';
}

}  // namespace

ShardIndex parse_shard_index(const nlohmann::json& j, const std::string& source) {
  KVMIX_CHECK(j.is_object() && j.contains("weight_map") && j["weight_map"].is_object(),
              "{}: a shard index needs a 'weight_map' object", source);
  ShardIndex index;
  for (const auto& [name, file] : j["weight_map"].items()) {
    KVMIX_CHECK(
        file.is_string() && is_plain_safetensors_name(file.get<std::string>()),
        "{}: weight_map entry '{}' must name a .safetensors file in the same folder, got {}",
        source, name, describe_json(file));
    index.weight_map.emplace(name, file.get<std::string>());
  }
  KVMIX_CHECK(!index.weight_map.empty(), "{}: weight_map lists no tensors", source);
  if (j.contains("metadata") && j["metadata"].is_object() && j["metadata"].contains("total_size") &&
      j["metadata"]["total_size"].is_number_unsigned())
    index.total_size = j["metadata"]["total_size"].get<uint64_t>();
  return index;
}

ShardIndex load_shard_index(const std::string& path) {
  return parse_shard_index(read_json_file(path), path);
}

nlohmann::json shard_index_to_json(const ShardIndex& index) {
  return {{"metadata", {{"total_size", index.total_size}}}, {"weight_map", index.weight_map}};
}

std::string shard_file_name(int64_t shard, int64_t num_shards) {
  return fmt::format("model-{:05d}-of-{:05d}.safetensors", shard, num_shards);
}

bool is_shard_file_name(const std::string& name) {
  static const std::regex kPattern(R"(model-\d{5}-of-\d{5}\.safetensors)");
  return std::regex_match(name, kPattern);
}

}  // namespace kvmix
