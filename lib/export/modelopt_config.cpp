#include "lib/export/modelopt_config.h"

#include <nlohmann/json.hpp>
#include <spdlog/fmt/fmt.h>

#include <algorithm>

#include "kvmix_version.h"
#include "lib/export/lowering.h"

namespace kvmix {
namespace {

// In increasing precision, so that std::max picks what every layer can live with.
enum class Side { kNvfp4, kFp8, kNone };
constexpr const char* kAlgoName[] = {"NVFP4", "FP8", nullptr};
constexpr double kSideBits[] = {4.5, 8, 16};

Side side_format(const QuantFormat& f) {
  if (f.kind == QuantKind::kNone) return Side::kNone;
  return nominal_bits(f) <= 4 ? Side::kNvfp4 : Side::kFp8;
}

size_t index(Side s) { return static_cast<size_t>(s); }

}  // namespace

ExportResult export_modelopt(const KvConfig& c) {
  using nlohmann::json;
  ExportResult r;
  r.target = "modelopt";
  r.file_name = "hf_quant_config.json";
  Side model = Side::kNvfp4;
  for (const auto& f : c.layers) model = std::max({model, side_format(f.k), side_format(f.v)});

  std::vector<size_t> fp16, wider, below4, int8, not_group16;
  std::vector<LoweredLayer> lowered;
  for (size_t l = 0; l < c.layers.size(); ++l) {
    const auto& f = c.layers[l];
    const Side k = side_format(f.k), v = side_format(f.v);
    if (k == Side::kNone || v == Side::kNone) fp16.push_back(l);
    if (k != model || v != model) wider.push_back(l);
    lowered.push_back({kSideBits[index(model)], kSideBits[index(model)]});
    if (model == Side::kNone) continue;
    if (nominal_bits(f.k) < 4 || nominal_bits(f.v) < 4) below4.push_back(l);
    if (model == Side::kFp8 && ((f.k.kind == QuantKind::kUniform && f.k.bits == 8) ||
                                (f.v.kind == QuantKind::kUniform && f.v.bits == 8)))
      int8.push_back(l);
    auto nvfp4_group_differs = [&](const QuantFormat& q) {
      return q.axis != QuantAxis::kPerToken || resolved_group(q, c.model.head_dim) != 16 ||
             !q.symmetric;
    };
    if (model == Side::kNvfp4 && (nvfp4_group_differs(f.k) || nvfp4_group_differs(f.v)))
      not_group16.push_back(l);
  }
  const char* algo = kAlgoName[index(model)];
  const json q = {{"quant_algo", nullptr},
                  {"kv_cache_quant_algo", algo ? json(algo) : json(nullptr)},
                  {"exclude_modules", json::array()}};
  const json doc = {{"producer", {{"name", "kvmix"}, {"version", KVMIX_VERSION}}},
                    {"quantization", q}};
  r.text = doc.dump(2) + "\n";

  r.losses.push_back(
      "quant_algo is null (kvmix leaves weights alone): merge kv_cache_quant_algo into a "
      "ModelOpt-quantized checkpoint's hf_quant_config.json; vLLM refuses this file alone");
  if (model == Side::kNone && c.layers.size() > fp16.size())
    r.losses.push_back(fmt::format(
        "{}: K or V kept in fp16, and ModelOpt has one KV cache format for every layer: no "
        "layer is quantized",
        layers_label(fp16)));
  else if (!wider.empty() && model != Side::kNone)
    r.losses.push_back(fmt::format(
        "{}: less precise than {} would do, but ModelOpt has one KV cache format for every "
        "layer: they lose compression",
        layers_label(wider), algo));
  if (!below4.empty())
    r.losses.push_back(fmt::format(
        "{}: keys or values below 4 bits (2-bit, ternary...) are not representable: stored "
        "as {} ({} bits), they lose compression",
        layers_label(below4), algo, kSideBits[index(model)]));
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
  if (model != Side::kNone && has_residual_window(c))
    r.losses.push_back(residual_loss(c, "ModelOpt"));
  const std::string mem =
      memory_loss(c, lowered, fmt::format("ModelOpt ({})", algo ? algo : "unquantized"));
  if (!mem.empty()) r.losses.push_back(mem);
  return r;
}

}  // namespace kvmix
