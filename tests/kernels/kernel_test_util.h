#pragma once
// Helpers shared by the kernel tests: seeded inputs, the reference kernels wrapped to take and
// return tensors like the ops do, and the backends a case runs on.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cstdio>
#include <string>

#include "kernels/ops.h"
#include "kernels/ops_args.h"
#include "kernels/quant_kernels.h"

namespace kvmix::test {

enum class Backend { kCpu, kCuda };

inline const char* backend_name(Backend b) { return b == Backend::kCpu ? "cpu" : "cuda"; }

// CUDA cases run only where libtorch has CUDA and a GPU is present.
inline bool backend_available(Backend b) { return b == Backend::kCpu || at::hasCUDA(); }

// A test case tagged [cuda] starts with `if (skip_without_cuda()) return;`. Without a device it
// prints the line that CMake registers as the skip marker (SKIP_REGULAR_EXPRESSION), so ctest
// reports the case as skipped, never as passed.
inline bool skip_without_cuda() {
  if (at::hasCUDA()) return false;
  std::printf("kvmix-test: skipped: no CUDA device\n");
  std::fflush(stdout);
  return true;
}

inline at::Device backend_device(Backend b) {
  return b == Backend::kCpu ? at::Device(at::kCPU) : at::Device(at::kCUDA);
}

// Standard normal values scaled by `scale`, with every 7th row of channels multiplied by
// `outlier` (the outlier channels KIVI keys have), reproducible from `seed`.
inline at::Tensor random_input(at::IntArrayRef shape, uint64_t seed, at::ScalarType dtype,
                               double scale = 1.0, double outlier = 10.0) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  at::Tensor x = at::randn(shape, gen, at::TensorOptions().dtype(at::kFloat)) * scale;
  if (x.dim() >= 1 && x.size(-1) > 1) {
    at::Tensor col = at::arange(x.size(-1)).remainder(7).eq(3);
    x = at::where(col, x * outlier, x);
  }
  return x.to(dtype).contiguous();
}

inline PackedTensor packed_like(const at::Tensor& x, const QuantFormat& f) {
  const ops::QuantInput in = ops::check_quant_input(x, f, "test");
  PackedTensor p;
  p.codes = at::empty(ops::codes_shape(f, in.layout, in.lead_shape), at::kInt);
  const auto sopt = at::TensorOptions().dtype(ops::scale_scalar_type(f.scale_dtype));
  p.scales = at::empty(ops::scales_shape(f, in.layout, in.lead_shape), sopt);
  if (has_zeros(f)) p.zeros = at::empty(ops::scales_shape(f, in.layout, in.lead_shape), sopt);
  p.tokens = x.size(-2);
  p.channels = x.size(-1);
  return p;
}

// quantize_pack_ref on a CPU tensor; returns the packed tensor and the non-finite group count.
inline PackedTensor ref_quantize(const at::Tensor& x, const QuantFormat& f, int64_t* bad = nullptr) {
  const ops::QuantInput in = ops::check_quant_input(x, f, "test");
  PackedTensor p = packed_like(x, f);
  const int64_t n = quantize_pack_ref(f, in.layout, x.data_ptr(), in.type,
                                      reinterpret_cast<uint32_t*>(p.codes.data_ptr<int32_t>()),
                                      p.scales.data_ptr(), p.zeros.defined() ? p.zeros.data_ptr() : nullptr);
  if (bad) *bad = n;
  return p;
}

inline at::Tensor ref_dequantize(const PackedTensor& p, const QuantFormat& f, at::IntArrayRef shape,
                                 at::ScalarType dtype) {
  const ops::PackedInput in = ops::check_packed(p.codes, p.scales, ops::optional_of(p.zeros),
                                                p.tokens, p.channels, f, "test", "packed");
  at::Tensor out = at::empty(shape, at::TensorOptions().dtype(dtype));
  unpack_dequantize_ref(f, in.layout, reinterpret_cast<const uint32_t*>(p.codes.data_ptr<int32_t>()),
                        p.scales.data_ptr(), p.zeros.defined() ? p.zeros.data_ptr() : nullptr,
                        out.data_ptr(), ops::elem_type(dtype, "test", "out"));
  return out;
}

// Bitwise equality of two tensors of the same dtype (NaN payloads and signed zeros included).
inline bool bitwise_equal(const at::Tensor& a, const at::Tensor& b) {
  if (a.defined() != b.defined()) return false;
  if (!a.defined()) return true;
  if (a.sizes() != b.sizes() || a.scalar_type() != b.scalar_type()) return false;
  const at::Tensor ac = a.cpu().contiguous(), bc = b.cpu().contiguous();
  return std::memcmp(ac.data_ptr(), bc.data_ptr(), static_cast<size_t>(ac.nbytes())) == 0;
}

inline std::string shape_text(at::IntArrayRef s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out + "]";
}

}  // namespace kvmix::test
