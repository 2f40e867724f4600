#include "lib/dense_attention.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "base/error.h"

namespace kvmix {
namespace {

// Queries q [B, Hq, Tq, D] whose first one sits at key position `first` (causal: query i sees keys
// 0..first+i).
at::Tensor attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                  const at::Tensor& key_valid, int64_t first, at::Tensor* probs) {
  const int64_t B = q.size(0), Hq = q.size(1), Tq = q.size(2), D = q.size(3);
  const int64_t Hkv = k.size(1), Tk = k.size(2);
  const int64_t g = Hq / Hkv;

  // Fold the query heads that share a KV head into the query axis: [B, Hkv, g*Tq, D]. The scale is
  // applied to q (D values per row) rather than to the scores (Tk per row).
  auto qf = q.to(at::kFloat).mul(1.0 / std::sqrt(double(D))).reshape({B, Hkv, g * Tq, D});
  auto scores = at::matmul(qf, k.to(at::kFloat).transpose(-1, -2)).view({B, Hkv, g, Tq, Tk});

  // visible[b, i, j]: causal and a valid key; added as a 0 / -inf bias in place (the scores are the
  // largest tensor of a prefill: no masked copies of them).
  auto qi = at::arange(Tq, q.options().dtype(at::kLong)).view({Tq, 1}) + first;
  auto kj = at::arange(Tk, q.options().dtype(at::kLong)).view({1, Tk});
  auto visible = (kj <= qi).view({1, 1, 1, Tq, Tk});
  if (key_valid.defined()) visible = visible.logical_and(key_valid.view({B, 1, 1, 1, Tk}));
  scores.add_(at::zeros(visible.sizes(), scores.options())
                  .masked_fill_(visible.logical_not(), -std::numeric_limits<float>::infinity()));

  auto p = at::softmax(scores, -1);
  // Rows with no visible key (a padding query) are all -inf and softmax gives NaN there: define
  // them as zero. Without a validity mask every query sees at least its own slot.
  if (key_valid.defined()) p.nan_to_num_(0.0, 0.0, 0.0);
  auto out = at::matmul(p.view({B, Hkv, g * Tq, Tk}), v.to(at::kFloat));
  if (probs) *probs = p.view({B, Hq, Tq, Tk});
  return out.view({B, Hq, Tq, D}).to(q.scalar_type());
}

}  // namespace

at::Tensor dense_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                           const at::Tensor& key_valid, at::Tensor* probs) {
  KVMIX_ASSERT(q.dim() == 4 && k.dim() == 4 && v.dim() == 4);
  const int64_t B = q.size(0), Hq = q.size(1), Tq = q.size(2);
  const int64_t Hkv = k.size(1), Tk = k.size(2);
  KVMIX_ASSERT(Hq % Hkv == 0 && Tk >= Tq, "Hq {} Hkv {} Tq {} Tk {}", Hq, Hkv, Tq, Tk);
  if (probs) return attend(q, k, v, key_valid, Tk - Tq, probs);
  // Query blocks whose score tensor stays near 8 MB on the CPU: the same arithmetic, but the working
  // set stays in the allocator's reusable heap instead of fresh pages from the kernel on every call.
  // On a GPU, 8 MB blocks would be a few queries each (a 32k-token prefill of an 8B model: 2), and
  // kernel launches, not memory, would set the time: blocks of 512 MB there, which the caching
  // allocator reuses.
  const int64_t budget = q.is_cuda() ? (int64_t{512} << 20) : (int64_t{8} << 20);
  const int64_t per_query = std::max<int64_t>(1, B * Hq * Tk * 4);
  const int64_t block = std::max<int64_t>(1, budget / per_query);
  if (block >= Tq) return attend(q, k, v, key_valid, Tk - Tq, nullptr);
  std::vector<at::Tensor> outs;
  for (int64_t s = 0; s < Tq; s += block) {
    const int64_t n = std::min(block, Tq - s);
    outs.push_back(attend(q.narrow(2, s, n), k, v, key_valid, Tk - Tq + s, nullptr));
  }
  return at::cat(outs, 2);
}

}  // namespace kvmix
