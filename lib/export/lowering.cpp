#include "lib/export/lowering.h"

#include <spdlog/fmt/fmt.h>

#include <algorithm>

namespace kvmix {

std::string layer_ranges(const std::vector<size_t>& layers) {
  std::string out;
  for (size_t i = 0; i < layers.size();) {
    size_t j = i;
    while (j + 1 < layers.size() && layers[j + 1] == layers[j] + 1) ++j;
    if (!out.empty()) out += ", ";
    out += j == i ? fmt::format("{}", layers[i]) : fmt::format("{}-{}", layers[i], layers[j]);
    i = j + 1;
  }
  return out;
}

std::string layers_label(const std::vector<size_t>& layers) {
  return (layers.size() == 1 ? "layer " : "layers ") + layer_ranges(layers);
}

double lowered_bytes_per_token(const KvConfig& c, const std::vector<LoweredLayer>& lowered) {
  const double elems = static_cast<double>(c.model.kv_heads * c.model.head_dim);
  double bits = 0;
  for (const auto& l : lowered) bits += elems * (l.k_bits + l.v_bits);
  return bits / 8.0;
}

std::string memory_loss(const KvConfig& c, const std::vector<LoweredLayer>& lowered,
                        const std::string& target) {
  const double ours = total_bytes_per_token(c, c.reference_tokens);
  const double theirs = lowered_bytes_per_token(c, lowered);
  if (theirs <= ours) return "";
  return fmt::format(
      "memory: about {:.0f} bytes per token in {} against {:.0f} true bytes in kvmix at {} tokens "
      "(+{:.0f}%)",
      theirs, target, ours, c.reference_tokens, 100.0 * (theirs / ours - 1.0));
}

bool has_residual_window(const KvConfig& c) {
  for (const auto& l : c.layers)
    if ((l.k.kind != QuantKind::kNone && l.k.residual > 0) ||
        (l.v.kind != QuantKind::kNone && l.v.residual > 0))
      return true;
  return false;
}

std::string residual_loss(const KvConfig& c, const std::string& target) {
  int r = 0;
  for (const auto& l : c.layers) {
    if (l.k.kind != QuantKind::kNone) r = std::max(r, l.k.residual);
    if (l.v.kind != QuantKind::kNone) r = std::max(r, l.v.residual);
  }
  return fmt::format(
      "residual window dropped: kvmix keeps up to the newest {} tokens in the model dtype, {} "
      "quantizes every token as it is stored",
      r, target);
}

std::vector<size_t> full_precision_layers(const KvConfig& c) {
  std::vector<size_t> out;
  for (size_t l = 0; l < c.layers.size(); ++l)
    if (c.layers[l].k.kind == QuantKind::kNone || c.layers[l].v.kind == QuantKind::kNone)
      out.push_back(l);
  return out;
}

}  // namespace kvmix
