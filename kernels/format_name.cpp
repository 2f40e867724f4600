#include <spdlog/fmt/fmt.h>

#include "kernels/quant_format.h"

namespace kvmix {

std::string format_name(const QuantFormat& f) {
  const char* axis = f.axis == QuantAxis::kPerChannel ? "ch" : "tok";
  const char* sd = f.scale_dtype == ScaleDtype::kF16 ? "f16" : "f32";
  const std::string g = f.group == 0 ? "gD" : fmt::format("g{}", f.group);
  const std::string r = f.residual > 0 ? fmt::format("-r{}", f.residual) : "";
  switch (f.kind) {
    case QuantKind::kNone:
      return "fp16";
    case QuantKind::kUniform:
      return fmt::format("u{}-{}-{}-{}-{}{}", f.bits, f.symmetric ? "sym" : "asym", axis, g, sd, r);
    case QuantKind::kTernary:
      return fmt::format("t1.58-{}-{}-{}{}", axis, g, sd, r);
    case QuantKind::kFp8E4M3:
      return fmt::format("fp8e4m3-{}{}", f.fp8_scope == Fp8Scope::kPerHead ? "head" : "tensor", r);
  }
  return "?";
}

}  // namespace kvmix
