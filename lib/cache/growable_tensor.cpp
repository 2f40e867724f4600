#include "lib/cache/growable_tensor.h"

#include <ATen/ATen.h>

#include "base/error.h"

namespace kvmix {

void GrowableTensor::append(const at::Tensor& t) {
  const int64_t n = t.size(dim_);
  const int64_t need = size_ + n;
  if (!buf_.defined() || buf_.size(dim_) < need) {
    auto sizes = t.sizes().vec();
    const int64_t cap = std::max<int64_t>(need, buf_.defined() ? 2 * buf_.size(dim_) : need);
    sizes[static_cast<size_t>(dim_)] = cap;
    auto nb = at::empty(sizes, t.options());
    if (size_ > 0) nb.narrow(dim_, 0, size_).copy_(buf_.narrow(dim_, 0, size_));
    buf_ = nb;
  } else {
    for (int64_t d = 0; d < t.dim(); ++d)
      KVMIX_ASSERT(d == dim_ || t.size(d) == buf_.size(d), "append shape mismatch at dim {}", d);
  }
  buf_.narrow(dim_, size_, n).copy_(t);
  size_ = need;
}

at::Tensor GrowableTensor::view() const {
  KVMIX_ASSERT(buf_.defined(), "view of an empty GrowableTensor");
  return buf_.narrow(dim_, 0, size_);
}

int64_t GrowableTensor::live_bytes() const {
  if (!buf_.defined() || size_ == 0) return 0;
  return static_cast<int64_t>(view().numel() * buf_.element_size());
}

}  // namespace kvmix
