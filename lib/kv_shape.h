#pragma once
// The shape of a decoder model as its KV cache sees it: one type for what a cache is built for and
// what a per-layer config, a sensitivity profile and a front are written for and checked against.
// models/model_kv_shape.h builds it from a model's config; files carry it as their "model" object
// beside a top-level "kv_dtype_bytes", read and written here only.
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>

namespace kvmix {

// Bounds of a shape read from a file (lib/kv_config.schema.json has the same): with reference
// lengths up to 2^24 tokens and 4-byte elements, every byte count stays below 2^63
// (4096 heads x 2^24 tokens x 65536 channels x 4 bytes = 2^54 per layer).
inline constexpr int64_t kMaxKvLayers = 4096;
inline constexpr int64_t kMaxKvHeads = 4096;
inline constexpr int64_t kMaxHeadDim = 65536;

struct KvShape {
  std::string architecture;  // "llama", "mistral", "qwen2"
  int64_t layers = 0;
  int64_t q_heads = 0;
  int64_t kv_heads = 0;
  int64_t head_dim = 0;
  int model_dtype_bytes = 2;  // bytes per element of unquantized K/V in a serving engine (fp16)
  std::string config_hash;    // models/model_config.h model_config_hash
  // Module paths an engine hooks, "{i}" standing for the layer index (Hugging Face naming).
  std::string k_proj = "model.layers.{i}.self_attn.k_proj";
  std::string v_proj = "model.layers.{i}.self_attn.v_proj";
};

// Writes the shape into a kvmix file object: its "model" object and "kv_dtype_bytes".
void kv_shape_to_json(const KvShape& s, nlohmann::json& file);

// Reads them back from a kvmix file object, checking every field (kv_shape_check); errors name
// `source` and the field.
KvShape kv_shape_from_json(const nlohmann::json& file, const std::string& source);

// Refuses a shape no model has: sizes out of the bounds above, query heads that are not a multiple
// of the KV heads, an unknown architecture, an element size other than 1, 2 or 4 bytes.
void kv_shape_check(const KvShape& s, const std::string& source);

// Refuses a file written for a model of another shape, naming the field that differs.
void kv_shape_check_same(const KvShape& file, const KvShape& model, const std::string& source);

}  // namespace kvmix
