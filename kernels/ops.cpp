// The C++ API of kernels/ops.h: each wrapper calls its op through the dispatcher, which picks the
// CPU or CUDA implementation from the tensors' device.
#include "kernels/ops.h"

#include <ATen/core/dispatch/Dispatcher.h>

#include "kernels/ops_args.h"

namespace kvmix {

namespace {

c10::OperatorHandle find_op(const char* name) {
  return c10::Dispatcher::singleton().findSchemaOrThrow(name, "");
}

}  // namespace

PackedTensor quantize_pack(const at::Tensor& x, const QuantFormat& f) {
  static const auto op =
      find_op("kvmix::quantize_pack")
          .typed<std::tuple<at::Tensor, at::Tensor, at::Tensor>(const at::Tensor&, at::IntArrayRef)>();
  const std::vector<int64_t> fmt = ops::encode_format(f);
  auto [codes, scales, zeros] = op.call(x, fmt);
  PackedTensor p;
  p.codes = codes;
  p.scales = scales;
  p.zeros = zeros;
  p.tokens = x.dim() >= 2 ? x.size(-2) : 0;
  p.channels = x.dim() >= 2 ? x.size(-1) : 0;
  return p;
}

at::Tensor unpack_dequantize(const PackedTensor& p, const QuantFormat& f, at::ScalarType dtype) {
  static const auto op =
      find_op("kvmix::unpack_dequantize")
          .typed<at::Tensor(const at::Tensor&, const at::Tensor&, const c10::optional<at::Tensor>&,
                            int64_t, int64_t, at::IntArrayRef, at::ScalarType)>();
  const std::vector<int64_t> fmt = ops::encode_format(f);
  return op.call(p.codes, p.scales, ops::optional_of(p.zeros), p.tokens, p.channels, fmt, dtype);
}

at::Tensor fake_quant(const at::Tensor& x, const QuantFormat& f) {
  static const auto op =
      find_op("kvmix::fake_quant").typed<at::Tensor(const at::Tensor&, at::IntArrayRef)>();
  const std::vector<int64_t> fmt = ops::encode_format(f);
  return op.call(x, fmt);
}

at::Tensor decode_attention(const at::Tensor& q, const PackedTensor& k_packed, const QuantFormat& kf,
                            const at::Tensor& k_resid, const PackedTensor& v_packed,
                            const QuantFormat& vf, const at::Tensor& v_resid,
                            const at::Tensor& valid) {
  static const auto op =
      find_op("kvmix::decode_attention")
          .typed<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                            const c10::optional<at::Tensor>&, int64_t, at::IntArrayRef,
                            const at::Tensor&, const at::Tensor&, const at::Tensor&,
                            const c10::optional<at::Tensor>&, int64_t, at::IntArrayRef,
                            const at::Tensor&, const c10::optional<at::Tensor>&)>();
  const std::vector<int64_t> kfmt = ops::encode_format(kf), vfmt = ops::encode_format(vf);
  return op.call(q, k_packed.codes, k_packed.scales, ops::optional_of(k_packed.zeros), k_packed.tokens,
                 kfmt, k_resid, v_packed.codes, v_packed.scales, ops::optional_of(v_packed.zeros),
                 v_packed.tokens, vfmt, v_resid, ops::optional_of(valid));
}

}  // namespace kvmix
