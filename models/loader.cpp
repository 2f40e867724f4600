// load_model: opens a checkpoint's safetensors files, checks every name, shape and dtype against
// config.json, then reads, checks and converts the tensors one at a time.
#include "models/loader.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <memory>
#include <regex>
#include <set>

#include "base/error.h"
#include "lib/io/paths.h"  // check_regular_file
#include "lib/io/safetensors.h"
#include "models/checkpoint_index.h"
#include "models/torch_dtype.h"

namespace kvmix {
namespace {

namespace fs = std::filesystem;

// Where each tensor of a checkpoint lives.
struct OpenCheckpoint {
  std::vector<std::unique_ptr<SafetensorsFile>> files;
  std::map<std::string, const SafetensorsFile*> where;  // tensor name -> the file holding it
  std::string listing;  // the file that lists the tensors: model.safetensors or the index
};

// Opens every shard named by the index and checks the index and the shards list the same
// tensors in the same places: an index that points to a tensor its shard lacks, or a shard
// holding tensors the index does not mention, means a partial or mixed-up download.
void open_shards(const std::string& dir, OpenCheckpoint& ck) {
  const ShardIndex index = load_shard_index(ck.listing);
  std::map<std::string, std::vector<std::string>> by_shard;
  for (const auto& [name, shard] : index.weight_map) by_shard[shard].push_back(name);
  for (const auto& [shard, names] : by_shard) {
    check_regular_file(dir + "/" + shard, "safetensors shard");  // open() blocks on a FIFO
    ck.files.push_back(std::make_unique<SafetensorsFile>(dir + "/" + shard));
    const SafetensorsFile& f = *ck.files.back();
    for (const std::string& name : names) {
      KVMIX_CHECK(f.contains(name), "{}: tensor '{}' listed in {} is missing from this shard",
                  f.path(), name, ck.listing);
      ck.where[name] = &f;
    }
    for (const auto& [name, entry] : f.header().tensors) {
      const auto it = index.weight_map.find(name);
      KVMIX_CHECK(it != index.weight_map.end() && it->second == shard,
                  "{}: holds tensor '{}', which {} {}", f.path(), name, ck.listing,
                  it == index.weight_map.end() ? "does not list" : "places in " + it->second);
    }
  }
}

// transformers prefers model.safetensors over the index when both exist; so does kvmix.
OpenCheckpoint open_checkpoint(const std::string& dir) {
  OpenCheckpoint ck;
  const std::string single = dir + "/" + kWeightsFileName, index = dir + "/" + kShardIndexFileName;
  if (fs::exists(single)) {
    ck.listing = single;
    check_regular_file(single, "safetensors file");  // open() blocks on a FIFO
    ck.files.push_back(std::make_unique<SafetensorsFile>(single));
    for (const auto& [name, entry] : ck.files.back()->header().tensors)
      ck.where[name] = ck.files.back().get();
  } else if (fs::exists(index)) {
    ck.listing = index;
    open_shards(dir, ck);
  } else {
    throw Error(fmt::format("{}: no {} or {} (kvmix reads safetensors checkpoints only)", dir,
                            kWeightsFileName, kShardIndexFileName));
  }
  return ck;
}

// Old transformers versions saved LlamaRotaryEmbedding's inv_freq buffer; it is a function of
// rope_theta and rope_scaling, which kvmix recomputes, so the stored copy is skipped.
bool is_rotary_buffer(const std::string& name) {
  static const std::regex kPattern(R"(model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq)");
  return std::regex_match(name, kPattern);
}

void check_finite(const at::Tensor& t, const std::string& name, const std::string& file,
                  const char* what) {
  const int64_t bad = t.numel() - at::isfinite(t).sum().item<int64_t>();
  KVMIX_CHECK(bad == 0, "{}: tensor '{}' has {} NaN or infinite values{}", file, name, bad, what);
}

// Reads one tensor, moves it to the device as stored, checks it is finite as stored and after the
// conversion (a bf16 weight past 65504 becomes inf in fp16), and returns it in the compute dtype.
// Converting on the device keeps the host's share to one stored tensor at a time.
at::Tensor read_checked(const SafetensorsFile& f, const std::string& name, at::ScalarType dtype,
                        at::Device device) {
  const at::Tensor stored = f.read(name).to(device);
  check_finite(stored, name, f.path(), "");
  at::Tensor t = stored.to(dtype);
  check_finite(
      t, name, f.path(),
      fmt::format(" after conversion to {} (out of its range)", torch_dtype_name(dtype)).c_str());
  return t;
}

}  // namespace

LoadedModel load_model(const std::string& dir, at::ScalarType compute_dtype, at::Device device) {
  KVMIX_CHECK(
      compute_dtype == at::kFloat || compute_dtype == at::kBFloat16 || compute_dtype == at::kHalf,
      "{}: compute dtype {} is not supported (float32, bfloat16, float16)", dir,
      c10::toString(compute_dtype));
  LoadedModel m;
  m.dir = dir;
  m.config = load_model_config(dir + "/config.json");
  const ModelConfig& c = m.config;
  const OpenCheckpoint ck = open_checkpoint(dir);
  const SafetensorsDtype stored = safetensors_dtype_of(torch_dtype_scalar_type(c.torch_dtype), "");

  // Pass 1: names, shapes and dtypes of everything, before reading gigabytes of data.
  resize_layers(m.weights, c);
  const std::vector<TensorSlot> slots = tensor_slots(m.weights, c);
  std::set<std::string> expected;
  for (const TensorSlot& s : slots) {
    expected.insert(s.name);
    const auto it = ck.where.find(s.name);
    KVMIX_CHECK(it != ck.where.end(), "{}: missing tensor '{}' (config.json implies shape [{}])",
                ck.listing, s.name, fmt::join(s.shape, ", "));
    const SafetensorsEntry& e = it->second->entry(s.name);
    KVMIX_CHECK(e.shape == s.shape, "{}: tensor '{}' has shape [{}] but config.json implies [{}]",
                it->second->path(), s.name, fmt::join(e.shape, ", "), fmt::join(s.shape, ", "));
    KVMIX_CHECK(e.dtype == stored,
                "{}: tensor '{}' is stored as {} but config.json says "
                "torch_dtype '{}' ({})",
                it->second->path(), s.name, safetensors_dtype_name(e.dtype), c.torch_dtype,
                safetensors_dtype_name(stored));
  }
  std::vector<std::string> unknown;
  bool tied_head_stored = false;
  for (const auto& [name, file] : ck.where) {
    if (expected.count(name) || is_rotary_buffer(name)) continue;
    if (c.tie_word_embeddings && name == "lm_head.weight") {
      tied_head_stored = true;
      continue;
    }
    unknown.push_back(name);
  }
  KVMIX_CHECK(unknown.empty(),
              "{}: {} tensors that a {} model with this config.json does not have, "
              "first '{}'",
              ck.listing, unknown.size(), c.model_type, unknown.empty() ? "" : unknown[0]);

  // Pass 2: the data.
  for (const TensorSlot& s : slots)
    *s.tensor = read_checked(*ck.where.at(s.name), s.name, compute_dtype, device);
  if (tied_head_stored) {
    // A tied model may store lm_head too; it must then be the embedding, or config.json lies.
    const SafetensorsFile& f = *ck.where.at("lm_head.weight");
    KVMIX_CHECK(f.read("lm_head.weight").to(device).to(compute_dtype).equal(m.weights.embed),
                "{}: tensor 'lm_head.weight' differs from 'model.embed_tokens.weight' but "
                "config.json says tie_word_embeddings",
                f.path());
  }
  tie_embeddings(m.weights, c);
  return m;
}

}  // namespace kvmix
