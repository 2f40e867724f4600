#include "lib/export/hf_quantized_cache.h"

#include <nlohmann/json.hpp>
#include <spdlog/fmt/fmt.h>

#include <algorithm>

#include "base/error.h"
#include "lib/export/lowering.h"

namespace kvmix {
namespace {

int hf_bits(const QuantFormat& f) {
  switch (f.kind) {
    case QuantKind::kNone: return 8;  // the cache has no unquantized layer; 8 bits is the closest
    case QuantKind::kUniform: return f.bits;
    case QuantKind::kTernary: return 2;
    case QuantKind::kFp8E4M3: return 8;
  }
  return 8;
}

bool grouped(const QuantFormat& f) {
  return f.kind == QuantKind::kUniform || f.kind == QuantKind::kTernary;
}

int hf_axis(const QuantFormat& f) { return f.axis == QuantAxis::kPerChannel ? 0 : 1; }

int64_t hf_group(const QuantFormat& f, int64_t head_dim) {
  return f.group == 0 ? head_dim : f.group;
}

}  // namespace

ExportResult export_hf(const KvConfig& c) {
  using nlohmann::json;
  ExportResult r;
  r.target = "hf";
  r.file_name = "hf_quantized_cache.json";
  const int64_t hd = c.model.head_dim;

  // Global axes, group and residual: the first grouped format met on each side.
  const QuantFormat* gk = nullptr;
  const QuantFormat* gv = nullptr;
  size_t gk_layer = 0, gv_layer = 0;
  for (size_t l = 0; l < c.layers.size(); ++l) {
    if (!gk && grouped(c.layers[l].k)) gk = &c.layers[l].k, gk_layer = l;
    if (!gv && grouped(c.layers[l].v)) gv = &c.layers[l].v, gv_layer = l;
  }
  const int axis_key = gk ? hf_axis(*gk) : 0;
  const int axis_value = gv ? hf_axis(*gv) : 1;
  const int64_t group = gk ? hf_group(*gk, hd) : gv ? hf_group(*gv, hd) : hd;
  const int residual = gk ? gk->residual : gv ? gv->residual : 0;
  // The cache has one q_group_size for keys and values, and a side quantized per token (axis 1)
  // groups the head's channels by it: checked here, before any byte count uses the layout.
  for (const auto& [name, axis] : {std::pair{"axis_key", axis_key}, {"axis_value", axis_value}})
    KVMIX_CHECK(axis == 0 || hd % group == 0,
                "q_group_size {} (the group of layer {}'s {}) does not divide head_dim {}, "
                "which {} {} (per-token groups of channels) needs: transformers' quantized cache "
                "has one group size for keys and values",
                group, gk ? gk_layer : gv_layer, gk ? "keys" : "values", hd, name, axis);

  int nbits = 1;
  bool mixed = false;
  std::vector<size_t> fp16, fp8, ternary, symmetric, fp32_scales, other_layout;
  json per_layer = json::array();  // a list: FlexibleQuantizedCache indexes it by layer number
  KvConfig as_lowered = c;  // the layers in kvmix formats as HQQ stores them, for the bytes
  for (size_t l = 0; l < c.layers.size(); ++l) {
    const auto& f = c.layers[l];
    const int kb = hf_bits(f.k), vb = hf_bits(f.v);
    nbits = std::max({nbits, kb, vb});
    if (kb != hf_bits(c.layers[0].k) || vb != hf_bits(c.layers[0].v) || kb != vb) mixed = true;
    if (f.k.kind == QuantKind::kNone || f.v.kind == QuantKind::kNone) fp16.push_back(l);
    if (f.k.kind == QuantKind::kFp8E4M3 || f.v.kind == QuantKind::kFp8E4M3) fp8.push_back(l);
    if (f.k.kind == QuantKind::kTernary || f.v.kind == QuantKind::kTernary) ternary.push_back(l);
    if ((f.k.kind == QuantKind::kUniform && f.k.symmetric) ||
        (f.v.kind == QuantKind::kUniform && f.v.symmetric))
      symmetric.push_back(l);
    if ((grouped(f.k) && f.k.scale_dtype == ScaleDtype::kF32) ||
        (grouped(f.v) && f.v.scale_dtype == ScaleDtype::kF32))
      fp32_scales.push_back(l);
    auto differs = [&](const QuantFormat& q, int axis) {
      return grouped(q) && (hf_axis(q) != axis || hf_group(q, hd) != group || q.residual != residual);
    };
    if (differs(f.k, axis_key) || differs(f.v, axis_value)) other_layout.push_back(l);
    per_layer.push_back({
        {"nbits_key", kb}, {"nbits_value", vb},
        {"axis_key", grouped(f.k) ? hf_axis(f.k) : axis_key},
        {"axis_value", grouped(f.v) ? hf_axis(f.v) : axis_value},
        {"q_group_size", grouped(f.k) ? hf_group(f.k, hd) : grouped(f.v) ? hf_group(f.v, hd) : group},
        {"residual_length", grouped(f.k) ? f.k.residual : grouped(f.v) ? f.v.residual : residual}});
    auto hqq = [&](int bits, int axis) {
      return uniform_format(bits, axis == 0 ? QuantAxis::kPerChannel : QuantAxis::kPerToken,
                            static_cast<int>(group), residual);
    };
    as_lowered.layers[l] = {hqq(kb, axis_key), hqq(vb, axis_value)};
  }

  const json doc = {
      {"cache_implementation", "quantized"},
      {"cache_config",
       {{"backend", "HQQ"},
        {"nbits", nbits},
        {"axis_key", axis_key},
        {"axis_value", axis_value},
        {"q_group_size", group},
        {"residual_length", residual},
        {"per_layer_quant", true},
        {"per_layer_config", per_layer}}},
  };
  r.text = doc.dump(2) + "\n";

  if (mixed)
    r.losses.push_back(fmt::format(
        "stock transformers applies one nbits to keys and values of every layer: nbits = {} (the "
        "most precise any layer needs); the per-layer bits (per_layer_config) take effect only in a "
        "per-layer cache such as KVTuner's FlexibleQuantizedCache",
        nbits));
  if (!fp16.empty())
    r.losses.push_back(fmt::format(
        "{}: kept in fp16 in kvmix, but the quantized cache quantizes every layer: "
        "written as 8 bits",
        layers_label(fp16)));
  if (!fp8.empty())
    r.losses.push_back(fmt::format("{}: fp8 e4m3 written as 8-bit integers (HQQ has no fp8)",
                                   layers_label(fp8)));
  if (!ternary.empty())
    r.losses.push_back(fmt::format("{}: ternary (1.58-bit) written as 2 bits",
                                   layers_label(ternary)));
  if (!symmetric.empty())
    r.losses.push_back(fmt::format(
        "{}: symmetric formats become asymmetric (HQQ stores a zero-point per group)",
        layers_label(symmetric)));
  if (!fp32_scales.empty())
    r.losses.push_back(fmt::format(
        "{}: fp32 scales become the model's compute dtype (fp16/bf16)",
        layers_label(fp32_scales)));
  if (!other_layout.empty())
    r.losses.push_back(fmt::format(
        "{}: axis, group or residual differ from the global axis_key {}, axis_value {}, "
        "q_group_size {}, residual_length {}; the quantized cache uses the global ones",
        layers_label(other_layout), axis_key, axis_value, group, residual));
  if (has_residual_window(c))
    r.losses.push_back(fmt::format(
        "residual window: transformers quantizes the whole full-precision window once it holds "
        "residual_length tokens, so 0 to {} newest tokens stay unquantized, where kvmix keeps the "
        "newest values in a sliding window",
        residual));
  std::vector<LoweredLayer> bits;
  const double elems = static_cast<double>(c.model.kv_heads * c.model.head_dim);
  for (size_t l = 0; l < c.layers.size(); ++l) {
    const double b = 8.0 * layer_bytes_per_token(as_lowered, l, c.reference_tokens) / elems;
    bits.push_back({b / 2, b / 2});
  }
  const std::string mem = memory_loss(c, bits, "transformers (HQQ, per-layer)");
  if (!mem.empty()) r.losses.push_back(mem);
  return r;
}

}  // namespace kvmix
