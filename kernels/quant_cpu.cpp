// The optimized CPU quantization kernels' entry points: dispatch on the format's axis to the
// per-channel (quant_cpu_channel.cpp), per-token (quant_cpu_token.cpp) or fp8
// (quant_cpu_fp8.cpp) drivers. Each agrees bit for bit with its reference in quant_ref.cpp.
#include "kernels/quant_cpu_codec.h"
#include "kernels/quant_kernels.h"

namespace kvmix {

int64_t quantize_pack_cpu(const QuantFormat& f, const PackedLayout& l, const void* x, ElemType xt,
                          uint32_t* codes, void* scales, void* zeros) {
  if (f.kind == QuantKind::kFp8E4M3) return cpu::quantize_fp8(f, l, x, xt, codes, scales, nullptr);
  if (f.axis == QuantAxis::kPerChannel)
    return cpu::quantize_channel(f, l, x, xt, codes, scales, zeros, nullptr);
  return cpu::quantize_token(f, l, x, xt, codes, scales, zeros, nullptr);
}

void unpack_dequantize_cpu(const QuantFormat& f, const PackedLayout& l, const uint32_t* codes,
                           const void* scales, const void* zeros, void* out, ElemType ot) {
  if (f.kind == QuantKind::kFp8E4M3) return cpu::dequantize_fp8(f, l, codes, scales, out, ot);
  if (f.axis == QuantAxis::kPerChannel)
    return cpu::dequantize_channel(f, l, codes, scales, zeros, out, ot);
  cpu::dequantize_token(f, l, codes, scales, zeros, out, ot);
}

int64_t fake_quant_cpu(const QuantFormat& f, const PackedLayout& l, const void* x, ElemType xt,
                       void* out) {
  if (f.kind == QuantKind::kFp8E4M3) return cpu::quantize_fp8(f, l, x, xt, nullptr, nullptr, out);
  if (f.axis == QuantAxis::kPerChannel)
    return cpu::quantize_channel(f, l, x, xt, nullptr, nullptr, nullptr, out);
  return cpu::quantize_token(f, l, x, xt, nullptr, nullptr, nullptr, out);
}

}  // namespace kvmix
