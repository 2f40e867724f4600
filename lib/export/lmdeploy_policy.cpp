#include "lib/export/lmdeploy_policy.h"

#include <spdlog/fmt/fmt.h>

#include <algorithm>

#include "lib/export/lowering.h"

namespace kvmix {
namespace {

int needed_policy_bits(const QuantFormat& f) {
  if (f.kind == QuantKind::kNone) return 16;
  return nominal_bits(f) <= 4 ? 4 : 8;
}

}  // namespace

ExportResult export_lmdeploy(const KvConfig& c) {
  ExportResult r;
  r.target = "lmdeploy";
  r.file_name = "lmdeploy_flags.txt";
  int bits = 4;
  for (const auto& l : c.layers)
    bits = std::max({bits, needed_policy_bits(l.k), needed_policy_bits(l.v)});
  const int policy = bits == 16 ? 0 : bits;
  r.text = fmt::format(
      "--quant-policy {}\n"
      "# Python: TurbomindEngineConfig(quant_policy={}) or PytorchEngineConfig(quant_policy={})\n",
      policy, policy, policy);

  // Storage per element: codes plus an fp16 scale and zero-point per head per token.
  const double params = 2.0 * 16.0 / static_cast<double>(c.model.head_dim);
  const double stored = policy == 0 ? 16.0 : policy + params;
  std::vector<size_t> wider, below4, per_channel;
  std::vector<LoweredLayer> lowered;
  for (size_t l = 0; l < c.layers.size(); ++l) {
    const auto& f = c.layers[l];
    if (needed_policy_bits(f.k) < bits || needed_policy_bits(f.v) < bits) wider.push_back(l);
    if ((f.k.kind != QuantKind::kNone && nominal_bits(f.k) < 4) ||
        (f.v.kind != QuantKind::kNone && nominal_bits(f.v) < 4))
      below4.push_back(l);
    if ((f.k.kind == QuantKind::kUniform || f.k.kind == QuantKind::kTernary) &&
        f.k.axis == QuantAxis::kPerChannel)
      per_channel.push_back(l);
    lowered.push_back({stored, stored});
  }
  const auto fp16 = full_precision_layers(c);
  if (policy == 0 && fp16.size() < c.layers.size())
    r.losses.push_back(fmt::format(
        "{}: K or V kept in fp16, and LMDeploy has one policy for all layers: quant_policy 0, "
        "no layer is quantized",
        layers_label(fp16)));
  else if (!wider.empty())
    r.losses.push_back(fmt::format(
        "{}: fewer than {} bits would do, but LMDeploy has one policy for all layers and both K "
        "and V: they lose compression",
        layers_label(wider), bits));
  if (policy != 0 && !below4.empty())
    r.losses.push_back(fmt::format(
        "{}: keys or values below 4 bits (2-bit, ternary...) are not representable: "
        "stored as 4-bit integers",
        layers_label(below4)));
  if (policy != 0 && !per_channel.empty())
    r.losses.push_back(fmt::format(
        "{}: per-channel key groups (KIVI) become per-token, per-head groups",
        layers_label(per_channel)));
  if (policy != 0 && has_residual_window(c)) r.losses.push_back(residual_loss(c, "LMDeploy"));
  const std::string mem = memory_loss(c, lowered, fmt::format("LMDeploy (quant_policy {})", policy));
  if (!mem.empty()) r.losses.push_back(mem);
  return r;
}

}  // namespace kvmix
