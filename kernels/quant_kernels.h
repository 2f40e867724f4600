#pragma once
// The raw quantization kernels: three versions of each (DESIGN.md, "Kernels"), all taking raw
// pointers and a PackedLayout, knowing nothing of torch. The launchers (kernels/ops_cpu.cpp,
// kernels/ops_torch_cuda.cpp) check dims, dtypes, devices and contiguity before calling them.
//
//   *_ref   scalar loops in element order: the oracle (kernels/quant_ref.cpp)
//   *_cpu   OpenMP across groups, vectorized inner loops (kernels/quant_cpu*.cpp)
//   *_cuda  one thread per group or element, mirroring _ref (kernels/quant_cuda.cu)
//
// All three compute every code with the functions of kernels/quant_math.h, so their codes,
// scales, zeros and dequantized values agree bit for bit.
//
// Pointers (contiguous, layout from kernels/quant_layout.h):
//   x       [N, T, D] of `xt`
//   codes   [N, rows, cols, W] uint32
//   scales  [scale_count] fp16 bits (uint16) or fp32, per f.scale_dtype
//   zeros   like scales for asymmetric uniform formats, else unused (may be null)
//   out     [N, T, D] of `ot`
// Quantizers return the number of groups (fp8: heads or 1) whose stored scale or zero is not
// finite: the input held a NaN or inf, or a group's range overflowed the scale dtype. The codes of
// such groups are unspecified; callers refuse the whole result.
#include <cstdint>
#include <vector>

#include "kernels/quant_format.h"
#include "kernels/quant_layout.h"

namespace kvmix {

int64_t quantize_pack_ref(const QuantFormat& f, const PackedLayout& l, const void* x, ElemType xt,
                          uint32_t* codes, void* scales, void* zeros);
void unpack_dequantize_ref(const QuantFormat& f, const PackedLayout& l, const uint32_t* codes,
                           const void* scales, const void* zeros, void* out, ElemType ot);
// quantize_pack_ref then unpack_dequantize_ref through temporary buffers; out has x's dtype.
int64_t fake_quant_ref(const QuantFormat& f, const PackedLayout& l, const void* x, ElemType xt,
                       void* out);

int64_t quantize_pack_cpu(const QuantFormat& f, const PackedLayout& l, const void* x, ElemType xt,
                          uint32_t* codes, void* scales, void* zeros);
void unpack_dequantize_cpu(const QuantFormat& f, const PackedLayout& l, const uint32_t* codes,
                           const void* scales, const void* zeros, void* out, ElemType ot);
// Fused: no packed tensor is written, each group goes from x to x^ in cache.
int64_t fake_quant_cpu(const QuantFormat& f, const PackedLayout& l, const void* x, ElemType xt,
                       void* out);

// The CPU kernels come in instruction-set variants: "avx512" (intrinsics for the common uniform
// formats, the generic kernels for the rest) where the CPU has AVX-512, and "generic"
// (auto-vectorized, multi-versioned for AVX-512 / AVX2 / baseline). *_cpu uses the first; the
// tests run every variant this CPU has.
struct QuantCpuVariant {
  const char* name;
  int64_t (*quantize)(const QuantFormat&, const PackedLayout&, const void*, ElemType, uint32_t*,
                      void*, void*);
  void (*dequantize)(const QuantFormat&, const PackedLayout&, const uint32_t*, const void*,
                     const void*, void*, ElemType);
  int64_t (*fake_quant)(const QuantFormat&, const PackedLayout&, const void*, ElemType, void*);
};
std::vector<QuantCpuVariant> quant_cpu_variants();

// The AVX-512 unpack+dequantize writes outputs of at least this many bytes with non-temporal
// stores: well past two cores' L2 and a fair share of L3, so the consumer would not find them in
// cache anyway, and skipping the read-for-ownership halves the memory traffic of a write-bound
// kernel.
constexpr int64_t kCpuStreamStoreBytes = int64_t{8} << 20;

// CUDA versions (device pointers, asynchronous on `stream`, a cudaStream_t). `workspace` holds
// quantize_workspace_bytes() bytes of device memory; the count of non-finite groups is written to
// the device int64 at `bad_groups` (read it back after the stream synchronizes).
int64_t quantize_workspace_bytes(const QuantFormat& f, const PackedLayout& l);
void quantize_pack_cuda(const QuantFormat& f, const PackedLayout& l, const void* x, ElemType xt,
                        uint32_t* codes, void* scales, void* zeros, void* workspace,
                        int64_t* bad_groups, void* stream);
void unpack_dequantize_cuda(const QuantFormat& f, const PackedLayout& l, const uint32_t* codes,
                            const void* scales, const void* zeros, void* out, ElemType ot,
                            void* stream);
void fake_quant_cuda(const QuantFormat& f, const PackedLayout& l, const void* x, ElemType xt,
                     void* out, void* workspace, int64_t* bad_groups, void* stream);

}  // namespace kvmix
