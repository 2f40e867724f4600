#pragma once
// The result of `kvmix profile`: for each layer and each candidate (key bits, value bits) pair,
// how much quantizing that layer ALONE disturbs the model, measured on the calibration split.
// Written as sensitivity.json (schema kvmix.sensitivity, version 1; JSON Schema
// search/sensitivity.schema.json, validated on read).
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "lib/kv_config.h"
#include "lib/kv_pair.h"
#include "lib/kv_shape.h"

namespace kvmix {

// One (layer, pair) cell. Means over calibration samples, with their spread.
struct CellStats {
  double k_rel_err = 0, v_rel_err = 0;  // ||K^ - K|| / ||K|| over the quantized prompt cache
  double attn_tv = 0;                   // attention-score error: total variation of the softmax rows
  double out_rel_err = 0;               // ||O^ - O|| / ||O|| of the layer's attention output
  double kl = 0;                        // next-token KL(full precision || quantized), nats per token
  double k_rel_err_std = 0, v_rel_err_std = 0, attn_tv_std = 0, out_rel_err_std = 0, kl_std = 0;
  double kl_p90 = 0;
  double bytes_per_token = 0;           // K + V true bytes per token of this layer at reference_tokens
};

// Bounds of what a sensitivity file may claim (the CLI's own bounds, and the schema's).
inline constexpr int64_t kMaxCalibSamples = 100000;        // per task, as --calib-samples
inline constexpr int64_t kMaxContinuationTokens = 65536;   // scored tokens per sample
inline constexpr int64_t kMaxReferenceTokens = int64_t{1} << 24;  // as a kv config's

struct Sensitivity {
  KvShape model;                   // with model_dtype_bytes, the size of residual windows' elements
  Scheme scheme = Scheme::kKivi;
  std::vector<KvPair> pairs;
  std::vector<std::string> tasks;  // calibration tasks
  int64_t samples = 0;             // per task
  int64_t continuation_tokens = 0;
  int64_t reference_tokens = 4096;
  double full_precision_bytes_per_token = 0;  // of one layer
  std::vector<std::vector<CellStats>> cells;  // [layer][pair]
};

// Which per-cell error a later stage uses.
enum class ErrorMetric { kOutRelErr, kKl, kAttnTv, kKRelErr, kVRelErr };
ErrorMetric parse_error_metric(const std::string& s);  // "out", "kl", "attn", "k", "v"
const char* error_metric_name(ErrorMetric m);
double cell_error(const CellStats& c, ErrorMetric m);

nlohmann::json sensitivity_to_json(const Sensitivity& s);
// Validates against the schema, then the meaning: the shape (lib/kv_shape.h), pair names that
// parse, each once, with the formats the scheme gives them; layers and cells in order; every
// number finite and in range; each cell's bytes and the full-precision bytes recomputed from the
// pair and the shape, and a file whose stored figure disagrees beyond rounding refused. Errors name
// `source` and the field.
Sensitivity sensitivity_from_json(const nlohmann::json& j, const std::string& source);
Sensitivity load_sensitivity(const std::string& path);
void save_sensitivity(const Sensitivity& s, const std::string& path);  // atomic, validated

// The part of sensitivity.json that front.json repeats, read and checked the same way for both:
// the model shape (lib/kv_shape.h), a scheme that fits its heads, the pairs (`pair_names`, found
// at `pairs_field` such as "pairs[].name": each a supported pair, each once) and reference_tokens.
// full_precision_bytes_per_token is recomputed; cells are left empty.
Sensitivity sensitivity_head_from_json(const nlohmann::json& j, const nlohmann::json& pair_names,
                                       const std::string& pairs_field, const std::string& source);

// Refuses format names `k` and `v` (fields `field`.k and `field`.v of `source`) other than those
// pair p has under the sensitivity's scheme: a pair renamed in a file no longer matches them.
void check_pair_format_names(const Sensitivity& s, size_t pair, const nlohmann::json& k,
                             const nlohmann::json& v, const std::string& source,
                             const std::string& field);

// The formats of pair p under the sensitivity's scheme, for every layer.
LayerKvFormat pair_formats(const Sensitivity& s, size_t pair);

// True bytes per token of one layer's K and V under pair p at reference_tokens (residual windows
// included): what the profile measures a cell at, recomputed from the pair and the shape.
double pair_bytes_per_token(const Sensitivity& s, size_t pair);
// The same for one layer kept in the model dtype.
double full_precision_layer_bytes_per_token(const Sensitivity& s);

}  // namespace kvmix
