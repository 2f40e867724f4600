#include "lib/cache/kv_cache.h"

#include <ATen/ATen.h>

#include "base/error.h"

namespace kvmix {

at::Tensor KvCache::begin_step(const at::Tensor& new_valid) {
  KVMIX_ASSERT(new_valid.dim() == 2 && new_valid.scalar_type() == at::kBool);
  if (!seen_.defined()) seen_ = at::zeros({new_valid.size(0)}, new_valid.options().dtype(at::kLong));
  KVMIX_CHECK(new_valid.size(0) == seen_.size(0),
              "KV cache holds {} sequences but the step has {}", seen_.size(0), new_valid.size(0));
  step_valid_ = new_valid;
  auto valid_long = new_valid.to(at::kLong);
  auto positions = seen_.unsqueeze(1) + at::cumsum(valid_long, 1) - 1;  // [B, Tq]
  positions = positions.clamp_min(0).masked_fill(new_valid.logical_not(), 0);
  seen_ = seen_ + valid_long.sum(1);
  return positions;
}

}  // namespace kvmix
