#include "lib/kv_quant_rules.h"

#include <ATen/ATen.h>

#include "kernels/ops.h"
#include "base/error.h"

namespace kvmix {

int64_t quantized_slots(const QuantFormat& f, int64_t slots) {
  return slots - residual_tokens(f, slots);
}

at::Tensor fill_padding_for_grouping(const at::Tensor& x, const at::Tensor& valid,
                                     const QuantFormat& f) {
  if (f.kind == QuantKind::kNone || f.axis != QuantAxis::kPerChannel) return x;
  if (valid.all().item<bool>()) return x;
  const int64_t B = x.size(0), H = x.size(1), n = x.size(2), D = x.size(3);
  const int64_t G = f.group;
  KVMIX_ASSERT(G > 0 && n % G == 0, "per-channel block of {} slots, group {}", n, G);
  auto xg = x.view({B, H, n / G, G, D});
  auto m = valid.view({B, 1, n / G, G, 1}).to(x.scalar_type());
  auto count = m.sum(3, /*keepdim=*/true);
  auto mean = (xg * m).sum(3, /*keepdim=*/true) / count.clamp_min(1.0);
  auto filled = at::where(m.to(at::kBool), xg, mean.expand_as(xg));
  return filled.reshape({B, H, n, D});
}

int64_t fake_quant_slots(at::Tensor& x, const at::Tensor& valid, const QuantFormat& f, int64_t from) {
  const int64_t upto = quantized_slots(f, x.size(2));
  if (upto <= from) return from;
  auto block = x.narrow(2, from, upto - from);
  auto filled = fill_padding_for_grouping(block, valid.narrow(1, from, upto - from), f);
  block.copy_(fake_quant(filled.contiguous(), f));
  return upto;
}

}  // namespace kvmix
