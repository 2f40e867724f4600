// libFuzzer target: load_shard_index (model.safetensors.index.json of a sharded checkpoint) on
// arbitrary bytes, read from a file as the loader reads it. A bad index must be refused with a
// kvmix::Error; a crash, a sanitizer report or another exception escaping is a bug. An index that
// loads must name only plain .safetensors files of its own folder (a path out of the checkpoint
// folder is the attack the check exists for) and survive shard_index_to_json unchanged.
// Crashes go to tests/fuzz/regressions/checkpoint_index/.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "models/checkpoint_index.h"
#include "tests/fuzz/fuzz_input_file.h"
#include "tests/fuzz/fuzz_refused.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kvmix;
  const std::string path = fuzz::write_input_file(kShardIndexFileName, data, size);
  ShardIndex index;
  try {
    index = load_shard_index(path);
  } catch (const Error& e) {
    return fuzz::refused(e);
  }
  KVMIX_ASSERT(!index.weight_map.empty(), "accepted an index without tensors");
  for (const auto& [tensor, file] : index.weight_map)
    KVMIX_ASSERT(file.find('/') == std::string::npos && file.find('\0') == std::string::npos &&
                     !file.empty() && file[0] != '.' && file.size() > 12 &&
                     file.compare(file.size() - 12, 12, ".safetensors") == 0,
                 "tensor '{}' maps to '{}', not a .safetensors file of the same folder", tensor,
                 file);
  const ShardIndex back = parse_shard_index(shard_index_to_json(index), "round-trip");
  KVMIX_ASSERT(back.weight_map == index.weight_map && back.total_size == index.total_size,
               "index changed through shard_index_to_json");
  return 0;
}
