// CUDA implementations of the kvmix ops, registered only when libtorch has CUDA (CMakeLists.txt
// globs *_torch_cuda.cpp then). The same checks as the CPU ops (kernels/ops_args.h), outputs and
// workspaces allocated on the input's device, then the raw launchers of kernels/quant_cuda.cu and
// kernels/decode_attention_cuda.cu on torch's current stream.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "kernels/decode_attention.h"
#include "kernels/ops_args.h"
#include "kernels/quant_kernels.h"

namespace kvmix::ops {
namespace {

void* current_stream() { return at::cuda::getCurrentCUDAStream().stream(); }

// Workspace and the device-side count of non-finite groups.
struct QuantScratch {
  at::Tensor workspace, bad;
  QuantScratch(const QuantFormat& f, const PackedLayout& l, const at::Tensor& like) {
    workspace = at::empty({quantize_workspace_bytes(f, l) + 1}, like.options().dtype(at::kByte));
    bad = at::zeros({1}, like.options().dtype(at::kLong));
  }
  int64_t bad_count() const { return bad.item<int64_t>(); }  // synchronizes the stream
};

std::tuple<at::Tensor, at::Tensor, at::Tensor> quantize_pack_cuda_op(const at::Tensor& x,
                                                                     at::IntArrayRef format) {
  const char* op = "kvmix::quantize_pack";
  const QuantFormat f = decode_format(format, op);
  const QuantInput in = check_quant_input(x, f, op);
  const c10::cuda::CUDAGuard guard(x.device());
  const PackedLayout& l = in.layout;
  at::Tensor codes = at::empty(codes_shape(f, l, in.lead_shape), x.options().dtype(at::kInt));
  const auto sopt = x.options().dtype(scale_scalar_type(f.scale_dtype));
  at::Tensor scales = at::empty(scales_shape(f, l, in.lead_shape), sopt);
  at::Tensor zeros;
  if (has_zeros(f)) zeros = at::empty(scales_shape(f, l, in.lead_shape), sopt);
  QuantScratch sc(f, l, x);
  quantize_pack_cuda(f, l, x.data_ptr(), in.type,
                     reinterpret_cast<uint32_t*>(codes.data_ptr<int32_t>()), scales.data_ptr(),
                     zeros.defined() ? zeros.data_ptr() : nullptr, sc.workspace.data_ptr(),
                     sc.bad.data_ptr<int64_t>(), current_stream());
  if (const int64_t bad = sc.bad_count()) throw_non_finite(x, f, bad, op);
  return {codes, scales, zeros};
}

at::Tensor unpack_dequantize_cuda_op(const at::Tensor& codes, const at::Tensor& scales,
                                     const c10::optional<at::Tensor>& zeros, int64_t tokens,
                                     int64_t channels, at::IntArrayRef format,
                                     at::ScalarType dtype) {
  const char* op = "kvmix::unpack_dequantize";
  const QuantFormat f = decode_format(format, op);
  const PackedInput p = check_packed(codes, scales, zeros, tokens, channels, f, op, "packed");
  check_finite(scales, op, "scales");
  if (has_zeros(f)) check_finite(*zeros, op, "zeros");
  const ElemType ot = elem_type(dtype, op, "the output dtype");
  const c10::cuda::CUDAGuard guard(codes.device());
  std::vector<int64_t> shape = p.lead_shape;
  shape.insert(shape.end(), {tokens, channels});
  at::Tensor out = at::empty(shape, codes.options().dtype(dtype));
  unpack_dequantize_cuda(f, p.layout, reinterpret_cast<const uint32_t*>(codes.data_ptr<int32_t>()),
                         scales.data_ptr(), has_zeros(f) ? zeros->data_ptr() : nullptr,
                         out.data_ptr(), ot, current_stream());
  return out;
}

at::Tensor fake_quant_cuda_op(const at::Tensor& x, at::IntArrayRef format) {
  const char* op = "kvmix::fake_quant";
  const QuantFormat f = decode_format(format, op);
  const QuantInput in = check_quant_input(x, f, op);
  const c10::cuda::CUDAGuard guard(x.device());
  at::Tensor out = at::empty_like(x);
  QuantScratch sc(f, in.layout, x);
  fake_quant_cuda(f, in.layout, x.data_ptr(), in.type, out.data_ptr(), sc.workspace.data_ptr(),
                  sc.bad.data_ptr<int64_t>(), current_stream());
  if (const int64_t bad = sc.bad_count()) throw_non_finite(x, f, bad, op);
  return out;
}

at::Tensor decode_attention_cuda_op(const at::Tensor& q, const at::Tensor& k_codes,
                                    const at::Tensor& k_scales,
                                    const c10::optional<at::Tensor>& k_zeros, int64_t k_tokens,
                                    at::IntArrayRef k_format, const at::Tensor& k_resid,
                                    const at::Tensor& v_codes, const at::Tensor& v_scales,
                                    const c10::optional<at::Tensor>& v_zeros, int64_t v_tokens,
                                    at::IntArrayRef v_format, const at::Tensor& v_resid,
                                    const c10::optional<at::Tensor>& valid) {
  const char* op = "kvmix::decode_attention";
  AttentionCall c = prepare_attention(q, k_codes, k_scales, k_zeros, k_tokens,
                                      decode_format(k_format, op), k_resid, v_codes, v_scales,
                                      v_zeros, v_tokens, decode_format(v_format, op), v_resid, valid);
  const c10::cuda::CUDAGuard guard(q.device());
  at::Tensor workspace =
      at::empty({decode_attention_workspace_bytes(c.args) + 1}, q.options().dtype(at::kByte));
  decode_attention_cuda(c.args, workspace.data_ptr(), current_stream());
  return c.out;
}

}  // namespace

TORCH_LIBRARY_IMPL(kvmix, CUDA, m) {
  m.impl("quantize_pack", &quantize_pack_cuda_op);
  m.impl("unpack_dequantize", &unpack_dequantize_cuda_op);
  m.impl("fake_quant", &fake_quant_cuda_op);
  m.impl("decode_attention", &decode_attention_cuda_op);
}

}  // namespace kvmix::ops
