#include "kernels/format_registry.h"

#include <spdlog/fmt/fmt.h>

#include "kernels/ops.h"  // true_bytes
#include "kernels/quant_layout.h"

namespace kvmix {

namespace {

FormatEntry make_entry(const QuantFormat& f) {
  FormatEntry e;
  e.format = f;
  e.name = format_name(f);
  e.nominal_bits = nominal_bits(f);
  const PackedLayout one = packed_layout(f, 1, kRegistryTokens, kRegistryHeadDim);
  const int64_t param_bytes = scale_bytes(f.scale_dtype) * (has_zeros(f) ? 2 : 1);
  if (f.kind == QuantKind::kFp8E4M3) {
    e.group = 0;
    e.bytes_per_group = one.words * 4;
  } else {
    e.group = one.group;
    e.bytes_per_group = one.words * 4 + param_bytes;
  }
  e.bits_per_element = 8.0 * static_cast<double>(true_bytes(1, kRegistryTokens, kRegistryHeadDim, f, 2)) /
                       static_cast<double>(kRegistryTokens * kRegistryHeadDim);
#ifdef KVMIX_HAVE_CUDA
  e.has_cuda = true;
#endif
  e.fused_key = f.kind == QuantKind::kUniform && f.axis == QuantAxis::kPerChannel;
  e.fused_value = f.kind == QuantKind::kUniform && f.axis == QuantAxis::kPerToken;
  return e;
}

std::vector<FormatEntry> build_registry() {
  struct Layout {
    QuantAxis axis;
    int group;
  };
  const Layout layouts[] = {{QuantAxis::kPerChannel, 32}, {QuantAxis::kPerChannel, 64},
                            {QuantAxis::kPerChannel, 128}, {QuantAxis::kPerToken, 32},
                            {QuantAxis::kPerToken, 64},   {QuantAxis::kPerToken, 128},
                            {QuantAxis::kPerToken, 0}};
  std::vector<FormatEntry> r;
  for (bool sym : {false, true})
    for (int bits : {1, 2, 3, 4, 8})
      for (const Layout& l : layouts) r.push_back(make_entry(uniform_format(bits, l.axis, l.group, 0, sym)));
  for (const Layout& l : layouts) r.push_back(make_entry(ternary_format(l.axis, l.group)));
  r.push_back(make_entry(fp8_format(Fp8Scope::kPerHead)));
  r.push_back(make_entry(fp8_format(Fp8Scope::kPerTensor)));
  return r;
}

}  // namespace

const std::vector<FormatEntry>& format_registry() {
  static const std::vector<FormatEntry> registry = build_registry();
  return registry;
}

std::string format_table_text() {
  std::string out = fmt::format(
      "{:<24} {:>5} {:>6} {:>12} {:>10}  {:<3} {:<3} {:<4}  {}\n", "format", "bits", "group",
      "bytes/group", "true bits", "ref", "cpu", "cuda", "fused attention");
  for (const FormatEntry& e : format_registry()) {
    const std::string group = e.format.kind == QuantKind::kFp8E4M3
                                  ? (e.format.fp8_scope == Fp8Scope::kPerHead ? "head" : "tensor")
                                  : fmt::format("{}", e.group);
    const char* fused = e.fused_key ? "keys" : e.fused_value ? "values" : "-";
    out += fmt::format("{:<24} {:>5.2f} {:>6} {:>12} {:>10.3f}  {:<3} {:<3} {:<4}  {}\n", e.name,
                       e.nominal_bits, group, e.bytes_per_group, e.bits_per_element,
                       e.has_ref ? "yes" : "no", e.has_cpu ? "yes" : "no",
                       e.has_cuda ? "yes" : "no", fused);
  }
  out += fmt::format(
      "\nbytes/group: codes (whole 32-bit words) + scale + zero of one group (fp8: one token row "
      "of {} channels);\ntrue bits: bits per element of a {}x{} head including scales and "
      "zeros, no residual window.\n",
      kRegistryHeadDim, kRegistryTokens, kRegistryHeadDim);
  return out;
}

}  // namespace kvmix
