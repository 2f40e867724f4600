#include "lib/export/vllm_flags.h"

#include <spdlog/fmt/fmt.h>

#include <map>

#include "lib/export/lowering.h"

namespace kvmix {

ExportResult export_vllm(const KvConfig& c) {
  ExportResult r;
  r.target = "vllm";
  r.file_name = "vllm_flags.txt";
  std::vector<size_t> skip, quantized, half_skipped, int8, per_head;
  std::map<std::string, std::vector<size_t>> raised;  // pair name -> layers stored wider
  std::vector<LoweredLayer> lowered;
  for (size_t l = 0; l < c.layers.size(); ++l) {
    const auto& f = c.layers[l];
    const bool k16 = f.k.kind == QuantKind::kNone, v16 = f.v.kind == QuantKind::kNone;
    if (k16 || v16) {
      skip.push_back(l);
      if (k16 != v16) half_skipped.push_back(l);
      lowered.push_back({16, 16});
      continue;
    }
    quantized.push_back(l);
    lowered.push_back({8, 8});
    if (nominal_bits(f.k) < 8 || nominal_bits(f.v) < 8) {
      const std::string name = fmt::format("K{}V{}", nominal_bits(f.k), nominal_bits(f.v));
      raised[name].push_back(l);
    }
    if ((f.k.kind == QuantKind::kUniform && f.k.bits == 8) ||
        (f.v.kind == QuantKind::kUniform && f.v.bits == 8))
      int8.push_back(l);
    if ((f.k.kind == QuantKind::kFp8E4M3 && f.k.fp8_scope == Fp8Scope::kPerHead) ||
        (f.v.kind == QuantKind::kFp8E4M3 && f.v.fp8_scope == Fp8Scope::kPerHead))
      per_head.push_back(l);
  }
  const char* dtype = quantized.empty() ? "auto" : "fp8_e4m3";
  r.text = fmt::format("--kv-cache-dtype {}", dtype);
  if (!quantized.empty() && !skip.empty()) {
    r.text += " --kv-cache-dtype-skip-layers";
    for (size_t l : skip) r.text += fmt::format(" {}", l);
  }
  r.text += "\n";

  for (const auto& [name, layers] : raised)
    r.losses.push_back(fmt::format(
        "{} ({}): vLLM has one quantized dtype, below 8 bits none: stored as fp8, they "
        "lose their compression",
        layers_label(layers), name));
  if (!half_skipped.empty())
    r.losses.push_back(fmt::format(
        "{}: one of K and V is fp16 in kvmix; vLLM skips a layer's K and V together, so "
        "the other is kept in the model dtype too",
        layers_label(half_skipped)));
  if (!int8.empty())
    r.losses.push_back(fmt::format(
        "{}: 8-bit integers with per-group dynamic scales become fp8 e4m3 with one static "
        "scale per tensor (1.0 unless the checkpoint carries k/v scales or --calculate-kv-scales is "
        "given)",
        layers_label(int8)));
  if (!per_head.empty())
    r.losses.push_back(fmt::format(
        "{}: fp8 per-head scales need a checkpoint calibrated per attention head "
        "(llm-compressor) and the Flash Attention backend; otherwise one scale per tensor",
        layers_label(per_head)));
  if (!quantized.empty() && has_residual_window(c)) r.losses.push_back(residual_loss(c, "vLLM"));
  const std::string mem = memory_loss(c, lowered, "vLLM (fp8)");
  if (!mem.empty()) r.losses.push_back(mem);
  return r;
}

}  // namespace kvmix
