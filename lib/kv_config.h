#pragma once
// The neutral per-layer KV config: what serving teams receive (DESIGN.md, "The per-layer config").
// It describes the encoding, not just bit counts: each layer's K and V reference a named format
// (family, bits, axis, group, symmetry, scale dtype, dynamic scales, residual window), and the
// file carries the model shape it is for, provenance, and true bytes per token.
// JSON Schema: lib/kv_config.schema.json, validated on read and on write.
#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

#include "lib/kv_pair.h"
#include "lib/kv_shape.h"

namespace kvmix {

inline constexpr const char* kKvConfigSchema = "kvmix.kv_config";
inline constexpr int kKvConfigVersion = 1;

struct KvProvenance {
  std::string producer = "kvmix";
  std::string producer_version;
  std::string model_path;
  std::string calibration;  // e.g. "arith+recall calib split, 32 samples, seed 0"
  std::string objective;    // e.g. "KL on calibration split"
  std::string budget;       // e.g. "<= 3.0 true bits per element"
  uint64_t seed = 0;
  nlohmann::json measured = nlohmann::json::object();  // quality figures at export time
};

struct KvConfig {
  KvShape model;                    // with model_dtype_bytes, the unquantized KV dtype an engine uses
  KvProvenance provenance;
  std::vector<LayerKvFormat> layers;
  int64_t reference_tokens = 4096;  // context length at which bytes per token are reported
};

// Bytes per token of layer l's K plus V at `tokens` context (residual window included).
double layer_bytes_per_token(const KvConfig& c, size_t layer, int64_t tokens);
double total_bytes_per_token(const KvConfig& c, int64_t tokens);
// True bits per K/V element, and KVTuner's nominal bits (mean of (k + v)/2, ternary as 1.58).
double true_bits_per_element(const KvConfig& c, int64_t tokens);
double nominal_bits(const KvConfig& c);

nlohmann::json kv_config_to_json(const KvConfig& c);
// Validates against the schema and then semantically (layer count, known formats...); errors name
// `source` and the offending field.
KvConfig kv_config_from_json(const nlohmann::json& j, const std::string& source);

KvConfig load_kv_config(const std::string& path);
void save_kv_config(const KvConfig& c, const std::string& path);  // atomic, validated

// Format <-> JSON (the "formats" table entries).
nlohmann::json format_to_json(const QuantFormat& f);
QuantFormat format_from_json(const nlohmann::json& j, const std::string& where);
// Per-layer formats as [{"k": format, "v": format}, ...], and back (work items of MPI ranks).
nlohmann::json layer_formats_to_json(const std::vector<LayerKvFormat>& layers);
std::vector<LayerKvFormat> layer_formats_from_json(const nlohmann::json& j, const std::string& where);

// Refuses a config written for another model shape, saying which field differs.
void check_kv_config_matches(const KvConfig& c, const KvShape& model, const std::string& source);

}  // namespace kvmix
