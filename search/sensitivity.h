#pragma once
// The result of `kvmix profile`: for each layer and each candidate (key bits, value bits) pair,
// how much quantizing that layer ALONE disturbs the model, measured on the calibration split.
// Written as sensitivity.json (schema kvmix.sensitivity, version 1).
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "lib/kv_config.h"
#include "lib/kv_pair.h"

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

struct Sensitivity {
  KvModelShape model;
  Scheme scheme = Scheme::kKivi;
  std::vector<KvPair> pairs;
  std::vector<std::string> tasks;  // calibration tasks
  int64_t samples = 0;             // per task
  int64_t continuation_tokens = 0;
  int64_t reference_tokens = 4096;
  int model_dtype_bytes = 2;
  double full_precision_bytes_per_token = 0;  // of one layer
  std::vector<std::vector<CellStats>> cells;  // [layer][pair]
};

// Which per-cell error a later stage uses.
enum class ErrorMetric { kOutRelErr, kKl, kAttnTv, kKRelErr, kVRelErr };
ErrorMetric parse_error_metric(const std::string& s);  // "out", "kl", "attn", "k", "v"
const char* error_metric_name(ErrorMetric m);
double cell_error(const CellStats& c, ErrorMetric m);

nlohmann::json sensitivity_to_json(const Sensitivity& s);
Sensitivity sensitivity_from_json(const nlohmann::json& j, const std::string& source);
Sensitivity load_sensitivity(const std::string& path);
void save_sensitivity(const Sensitivity& s, const std::string& path);

// The formats of pair p under the sensitivity's scheme, for every layer.
LayerKvFormat pair_formats(const Sensitivity& s, size_t pair);

}  // namespace kvmix
