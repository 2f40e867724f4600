#include "lib/export/modelopt_config.h"

#include <nlohmann/json.hpp>
#include <spdlog/fmt/fmt.h>

#include <set>

#include "kvmix_version.h"
#include "lib/export/lowering.h"

namespace kvmix {
namespace {

enum class Side { kNone, kNvfp4, kFp8 };

Side side_format(const QuantFormat& f) {
  if (f.kind == QuantKind::kNone) return Side::kNone;
  return nominal_bits(f) <= 4 ? Side::kNvfp4 : Side::kFp8;
}

double side_bits(Side s) { return s == Side::kNone ? 16 : s == Side::kNvfp4 ? 4.5 : 8; }

// "model.layers.{i}.self_attn.k_proj" -> "model.layers.7.self_attn"
std::string attention_module(const std::string& k_proj, size_t layer) {
  std::string m = k_proj.substr(0, k_proj.find_last_of('.'));
  const size_t at = m.find("{i}");
  if (at != std::string::npos) m.replace(at, 3, std::to_string(layer));
  return m;
}

}  // namespace

ExportResult export_modelopt(const KvConfig& c) {
  using nlohmann::json;
  ExportResult r;
  r.target = "modelopt";
  r.file_name = "hf_quant_config.json";
  json layers = json::object();
  std::set<std::string> algos;
  std::vector<size_t> skipped, half_skipped, below4, k_raised, int8, not_group16;
  std::vector<LoweredLayer> lowered;
  for (size_t l = 0; l < c.layers.size(); ++l) {
    const auto& f = c.layers[l];
    Side k = side_format(f.k), v = side_format(f.v);
    if (k == Side::kNone || v == Side::kNone) {
      skipped.push_back(l);
      if (k != v) half_skipped.push_back(l);
      lowered.push_back({16, 16});
      continue;
    }
    if (k == Side::kNvfp4 && v == Side::kFp8) k = Side::kFp8, k_raised.push_back(l);
    const char* algo = k == Side::kFp8 ? (v == Side::kFp8 ? "FP8" : "FP8_K_NVFP4_V") : "NVFP4";
    algos.insert(algo);
    layers[attention_module(c.model.k_proj, l)] = {{"quant_algo", algo}};
    lowered.push_back({side_bits(k), side_bits(v)});
    if (nominal_bits(f.k) < 4 || nominal_bits(f.v) < 4) below4.push_back(l);
    if ((f.k.kind == QuantKind::kUniform && f.k.bits == 8) ||
        (f.v.kind == QuantKind::kUniform && f.v.bits == 8))
      int8.push_back(l);
    auto nvfp4_group_differs = [&](const QuantFormat& q, Side s) {
      return s == Side::kNvfp4 && (q.axis != QuantAxis::kPerToken ||
                                   resolved_group(q, c.model.head_dim) != 16 || !q.symmetric);
    };
    if (nvfp4_group_differs(f.k, k) || nvfp4_group_differs(f.v, v)) not_group16.push_back(l);
  }
  json q = {{"quant_algo", nullptr}, {"kv_cache_schema_version", 1}};
  if (algos.empty()) {
    q["kv_cache_quant_algo"] = nullptr;
  } else {
    q["kv_cache_quant_algo"] = (algos.size() == 1 && skipped.empty()) ? *algos.begin() : "MIXED_PRECISION";
    q["kv_cache_quantized_layers"] = layers;
  }
  const json doc = {{"producer", {{"name", "kvmix"}, {"version", KVMIX_VERSION}}},
                    {"quantization", q}};
  r.text = doc.dump(2) + "\n";

  if (!below4.empty())
    r.losses.push_back(fmt::format(
        "{}: keys or values below 4 bits (2-bit, ternary...) are not representable: stored "
        "as NVFP4 (4.5 bits), they lose compression",
        layers_label(below4)));
  if (!k_raised.empty())
    r.losses.push_back(fmt::format(
        "{}: NVFP4 keys with FP8 values have no ModelOpt algorithm: keys raised to FP8",
        layers_label(k_raised)));
  if (!half_skipped.empty())
    r.losses.push_back(fmt::format(
        "{}: one of K and V is fp16 in kvmix; ModelOpt quantizes a layer's K and V "
        "together, so the layer is left unquantized",
        layers_label(half_skipped)));
  if (!int8.empty())
    r.losses.push_back(fmt::format(
        "{}: 8-bit integers with per-group dynamic scales become FP8 e4m3 with calibrated "
        "static scales",
        layers_label(int8)));
  if (!not_group16.empty())
    r.losses.push_back(fmt::format(
        "{}: NVFP4 groups 16 consecutive channels symmetrically with fp8 scales; kvmix's "
        "axis, group size, zero-points or fp16 scales are not kept",
        layers_label(not_group16)));
  if (!algos.empty() && has_residual_window(c)) r.losses.push_back(residual_loss(c, "ModelOpt"));
  const std::string mem = memory_loss(c, lowered, "ModelOpt (FP8/NVFP4)");
  if (!mem.empty()) r.losses.push_back(mem);
  return r;
}

}  // namespace kvmix
