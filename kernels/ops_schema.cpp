// The kvmix op schemas, declared once (vLLM's csrc/torch_bindings.cpp pattern). Each device
// registers its implementations separately: kernels/ops_cpu.cpp (CPU) and
// kernels/ops_torch_cuda.cpp (CUDA, built when libtorch has CUDA). A format travels as the
// int[8] of kernels/ops_args.h; zeros are an undefined tensor for formats without them.
#include <torch/library.h>

TORCH_LIBRARY(kvmix, m) {
  m.def("quantize_pack(Tensor x, int[] format) -> (Tensor codes, Tensor scales, Tensor zeros)");
  m.def(
      "unpack_dequantize(Tensor codes, Tensor scales, Tensor? zeros, int tokens, int channels, "
      "int[] format, ScalarType dtype) -> Tensor");
  m.def("fake_quant(Tensor x, int[] format) -> Tensor");
  m.def(
      "decode_attention(Tensor q, Tensor k_codes, Tensor k_scales, Tensor? k_zeros, int k_tokens, "
      "int[] k_format, Tensor k_resid, Tensor v_codes, Tensor v_scales, Tensor? v_zeros, "
      "int v_tokens, int[] v_format, Tensor v_resid, Tensor? valid) -> Tensor");
}
