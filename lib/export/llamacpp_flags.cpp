#include "lib/export/llamacpp_flags.h"

#include <spdlog/fmt/fmt.h>

#include <algorithm>

#include "lib/export/lowering.h"

namespace kvmix {
namespace {

// ggml cache types in increasing precision.
enum GgmlType { kQ4_0, kQ4_1, kQ5_0, kQ5_1, kQ8_0, kF16 };
constexpr const char* kTypeName[] = {"q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "f16"};
// Storage bits per element: (fp16 scale [+ fp16 min] + 32 codes) / 32 values.
constexpr double kTypeBits[] = {4.5, 5.0, 5.5, 6.0, 8.5, 16.0};
constexpr int kBlock = 32;  // ggml's QK4_0 = QK4_1 = QK5_0 = QK5_1 = QK8_0

GgmlType needed(const QuantFormat& f) {
  switch (f.kind) {
    case QuantKind::kNone: return kF16;
    case QuantKind::kFp8E4M3: return kQ8_0;
    case QuantKind::kTernary: return kQ4_0;
    case QuantKind::kUniform: break;
  }
  if (f.bits > 4) return kQ8_0;
  return f.symmetric ? kQ4_0 : kQ4_1;
}

}  // namespace

ExportResult export_llamacpp(const KvConfig& c) {
  ExportResult r;
  r.target = "llamacpp";
  r.file_name = "llamacpp_flags.txt";
  GgmlType ck = kQ4_0, cv = kQ4_0;
  std::vector<std::pair<GgmlType, GgmlType>> need;
  for (const auto& l : c.layers) {
    need.push_back({needed(l.k), needed(l.v)});
    ck = std::max(ck, need.back().first);
    cv = std::max(cv, need.back().second);
  }
  r.text = fmt::format("-ctk {} -ctv {}\n", kTypeName[ck], kTypeName[cv]);
  r.text += "# llama.cpp applies one -ctk/-ctv to every layer; the per-layer types this config needs:\n";
  for (size_t i = 0; i < need.size();) {
    size_t j = i;
    while (j + 1 < need.size() && need[j + 1] == need[i]) ++j;
    const std::string range = i == j ? fmt::format("layer {}", i) : fmt::format("layers {}-{}", i, j);
    r.text += fmt::format("#   {}: -ctk {} -ctv {}\n", range, kTypeName[need[i].first],
                          kTypeName[need[i].second]);
    i = j + 1;
  }
  if (cv != kF16) r.text += "# a quantized V cache needs flash attention: add -fa (-fa on in newer builds)\n";

  std::vector<size_t> wider, below4, per_channel, other_group, asym8;
  std::vector<LoweredLayer> lowered;
  for (size_t l = 0; l < c.layers.size(); ++l) {
    const auto& f = c.layers[l];
    if (need[l].first != ck || need[l].second != cv) wider.push_back(l);
    if ((f.k.kind != QuantKind::kNone && nominal_bits(f.k) < 4) ||
        (f.v.kind != QuantKind::kNone && nominal_bits(f.v) < 4))
      below4.push_back(l);
    auto grouped = [](const QuantFormat& q) {
      return q.kind == QuantKind::kUniform || q.kind == QuantKind::kTernary;
    };
    if ((grouped(f.k) && f.k.axis == QuantAxis::kPerChannel) ||
        (grouped(f.v) && f.v.axis == QuantAxis::kPerChannel))
      per_channel.push_back(l);
    auto other = [&](const QuantFormat& q) {
      return grouped(q) && q.axis == QuantAxis::kPerToken && resolved_group(q, c.model.head_dim) != kBlock;
    };
    if (other(f.k) || other(f.v)) other_group.push_back(l);
    if ((f.k.kind == QuantKind::kUniform && f.k.bits == 8 && !f.k.symmetric && ck == kQ8_0) ||
        (f.v.kind == QuantKind::kUniform && f.v.bits == 8 && !f.v.symmetric && cv == kQ8_0))
      asym8.push_back(l);
    lowered.push_back({kTypeBits[ck], kTypeBits[cv]});
  }
  if (!wider.empty())
    r.losses.push_back(fmt::format(
        "{}: less precise types than -ctk {} -ctv {} would do, but llama.cpp has one type for all layers: "
        "they lose compression",
        layers_label(wider), kTypeName[ck], kTypeName[cv]));
  if (!below4.empty())
    r.losses.push_back(fmt::format(
        "{}: keys or values below 4 bits (2-bit, ternary...) are not representable; the "
        "smallest ggml cache types are q4_0/q4_1",
        layers_label(below4)));
  if (!per_channel.empty())
    r.losses.push_back(fmt::format(
        "{}: per-channel groups (KIVI's keys: tokens of one channel share a scale) become "
        "ggml blocks of {} channels of one token",
        layers_label(per_channel), kBlock));
  if (!other_group.empty())
    r.losses.push_back(fmt::format("{}: group size differs: ggml blocks hold {} channels",
                                   layers_label(other_group), kBlock));
  if (!asym8.empty())
    r.losses.push_back(fmt::format(
        "{}: 8-bit asymmetric groups become q8_0, symmetric (no zero-point)",
        layers_label(asym8)));
  if ((ck != kF16 || cv != kF16) && has_residual_window(c))
    r.losses.push_back(residual_loss(c, "llama.cpp"));
  const std::string mem =
      memory_loss(c, lowered, fmt::format("llama.cpp ({}/{})", kTypeName[ck], kTypeName[cv]));
  if (!mem.empty()) r.losses.push_back(mem);
  return r;
}

}  // namespace kvmix
