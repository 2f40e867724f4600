#include "lib/policies/policy_attention.h"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>

#include "base/error.h"

namespace kvmix {

at::Tensor policy_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const at::Tensor& kept, at::Tensor* probs) {
  KVMIX_ASSERT(q.dim() == 4 && k.dim() == 4 && v.dim() == 4 && kept.dim() == 3);
  const int64_t B = q.size(0), Hq = q.size(1), Tq = q.size(2), D = q.size(3);
  const int64_t Hkv = k.size(1), Tk = k.size(2);
  KVMIX_ASSERT(Hq % Hkv == 0 && Tk >= Tq, "Hq {} Hkv {} Tq {} Tk {}", Hq, Hkv, Tq, Tk);
  KVMIX_ASSERT(kept.size(0) == B && kept.size(1) == Hkv && kept.size(2) == Tk);
  const int64_t g = Hq / Hkv;

  auto qf = q.to(at::kFloat).reshape({B, Hkv, g * Tq, D});
  auto scores = at::matmul(qf, k.to(at::kFloat).transpose(-1, -2)) / std::sqrt(double(D));
  scores = scores.view({B, Hkv, g, Tq, Tk});

  auto qi = at::arange(Tq, q.options().dtype(at::kLong)).view({Tq, 1}) + (Tk - Tq);
  auto kj = at::arange(Tk, q.options().dtype(at::kLong)).view({1, Tk});
  auto visible = (kj <= qi).view({1, 1, 1, Tq, Tk}).logical_and(kept.view({B, Hkv, 1, 1, Tk}));
  scores = scores.masked_fill(visible.logical_not(), -std::numeric_limits<float>::infinity());
  auto p = at::softmax(scores, -1);
  p = at::where(visible.any(-1, /*keepdim=*/true), p, at::zeros_like(p));  // empty rows: zero
  auto out = at::matmul(p.view({B, Hkv, g * Tq, Tk}), v.to(at::kFloat));
  if (probs) *probs = p.view({B, Hq, Tq, Tk});
  return out.view({B, Hq, Tq, D}).to(q.scalar_type());
}

}  // namespace kvmix
