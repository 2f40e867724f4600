// The optimized CPU quantization kernels' entry points: the AVX-512 intrinsics kernels
// (quant_cpu_avx512.cpp) for the formats they cover on CPUs that have AVX-512, else the
// auto-vectorized per-channel (quant_cpu_channel.cpp), per-token (quant_cpu_token.cpp) and fp8
// (quant_cpu_fp8.cpp) kernels. Every variant agrees bit for bit with quant_ref.cpp.
#include "kernels/quant_cpu_codec.h"
#include "kernels/quant_kernels.h"

namespace kvmix {

namespace {

int64_t quantize_generic(const QuantFormat& f, const PackedLayout& l, const void* x, ElemType xt,
                         uint32_t* codes, void* scales, void* zeros, void* fake_out) {
  if (f.kind == QuantKind::kFp8E4M3) return cpu::quantize_fp8(f, l, x, xt, codes, scales, fake_out);
  if (f.axis == QuantAxis::kPerChannel)
    return cpu::quantize_channel(f, l, x, xt, codes, scales, zeros, fake_out);
  return cpu::quantize_token(f, l, x, xt, codes, scales, zeros, fake_out);
}

int64_t quantize_pack_generic(const QuantFormat& f, const PackedLayout& l, const void* x,
                              ElemType xt, uint32_t* codes, void* scales, void* zeros) {
  return quantize_generic(f, l, x, xt, codes, scales, zeros, nullptr);
}

int64_t fake_quant_generic(const QuantFormat& f, const PackedLayout& l, const void* x, ElemType xt,
                           void* out) {
  return quantize_generic(f, l, x, xt, nullptr, nullptr, nullptr, out);
}

void unpack_dequantize_generic(const QuantFormat& f, const PackedLayout& l, const uint32_t* codes,
                               const void* scales, const void* zeros, void* out, ElemType ot) {
  if (f.kind == QuantKind::kFp8E4M3) return cpu::dequantize_fp8(f, l, codes, scales, out, ot);
  if (f.axis == QuantAxis::kPerChannel)
    return cpu::dequantize_channel(f, l, codes, scales, zeros, out, ot);
  cpu::dequantize_token(f, l, codes, scales, zeros, out, ot);
}

#if defined(__x86_64__) && defined(__GNUC__)
bool cpu_has_avx512() {
  static const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  return ok;
}

int64_t quantize_pack_avx512(const QuantFormat& f, const PackedLayout& l, const void* x,
                             ElemType xt, uint32_t* codes, void* scales, void* zeros) {
  if (!cpu::avx512_supports(f, l)) return quantize_pack_generic(f, l, x, xt, codes, scales, zeros);
  return cpu::quantize_avx512(f, l, x, xt, codes, scales, zeros, nullptr);
}

int64_t fake_quant_avx512(const QuantFormat& f, const PackedLayout& l, const void* x, ElemType xt,
                          void* out) {
  if (!cpu::avx512_supports(f, l)) return fake_quant_generic(f, l, x, xt, out);
  return cpu::quantize_avx512(f, l, x, xt, nullptr, nullptr, nullptr, out);
}

void unpack_dequantize_avx512(const QuantFormat& f, const PackedLayout& l, const uint32_t* codes,
                              const void* scales, const void* zeros, void* out, ElemType ot) {
  if (!cpu::avx512_supports(f, l)) return unpack_dequantize_generic(f, l, codes, scales, zeros, out, ot);
  cpu::dequantize_avx512(f, l, codes, scales, zeros, out, ot);
}
#endif

const QuantCpuVariant& best_variant() {
  static const QuantCpuVariant v = quant_cpu_variants().front();
  return v;
}

}  // namespace

std::vector<QuantCpuVariant> quant_cpu_variants() {
  std::vector<QuantCpuVariant> v;
#if defined(__x86_64__) && defined(__GNUC__)
  if (cpu_has_avx512())
    v.push_back({"avx512", quantize_pack_avx512, unpack_dequantize_avx512, fake_quant_avx512});
#endif
  v.push_back({"generic", quantize_pack_generic, unpack_dequantize_generic, fake_quant_generic});
  return v;
}

int64_t quantize_pack_cpu(const QuantFormat& f, const PackedLayout& l, const void* x, ElemType xt,
                          uint32_t* codes, void* scales, void* zeros) {
  return best_variant().quantize(f, l, x, xt, codes, scales, zeros);
}

void unpack_dequantize_cpu(const QuantFormat& f, const PackedLayout& l, const uint32_t* codes,
                           const void* scales, const void* zeros, void* out, ElemType ot) {
  best_variant().dequantize(f, l, codes, scales, zeros, out, ot);
}

int64_t fake_quant_cpu(const QuantFormat& f, const PackedLayout& l, const void* x, ElemType xt,
                       void* out) {
  return best_variant().fake_quant(f, l, x, xt, out);
}

}  // namespace kvmix
