#include "lib/dense_kv_store.h"

#include <ATen/ATen.h>

#include "lib/error.h"

namespace kvmix {

void DenseKvStore::append(const at::Tensor& k, const at::Tensor& v, const at::Tensor& valid) {
  KVMIX_ASSERT(k.dim() == 4 && v.sizes() == k.sizes() && valid.dim() == 2);
  const int64_t t = k.size(2);
  const int64_t need = size_ + t;
  if (!k_.defined() || k_.size(2) < need) {
    const int64_t cap = std::max<int64_t>(need, k_.defined() ? 2 * k_.size(2) : need);
    auto nk = at::empty({k.size(0), k.size(1), cap, k.size(3)}, k.options());
    auto nv = at::empty({v.size(0), v.size(1), cap, v.size(3)}, v.options());
    auto nvalid = at::zeros({valid.size(0), cap}, valid.options());
    if (size_ > 0) {
      nk.narrow(2, 0, size_).copy_(k_.narrow(2, 0, size_));
      nv.narrow(2, 0, size_).copy_(v_.narrow(2, 0, size_));
      nvalid.narrow(1, 0, size_).copy_(valid_.narrow(1, 0, size_));
    }
    k_ = nk, v_ = nv, valid_ = nvalid;
  }
  k_.narrow(2, size_, t).copy_(k);
  v_.narrow(2, size_, t).copy_(v);
  valid_.narrow(1, size_, t).copy_(valid);
  size_ = need;
}

void DenseKvStore::assign(const at::Tensor& k, const at::Tensor& v, const at::Tensor& valid) {
  k_ = k.contiguous(), v_ = v.contiguous(), valid_ = valid.contiguous();
  size_ = k.size(2);
}

at::Tensor DenseKvStore::keys() const { return k_.narrow(2, 0, size_); }
at::Tensor DenseKvStore::values() const { return v_.narrow(2, 0, size_); }
at::Tensor DenseKvStore::valid() const { return valid_.narrow(1, 0, size_); }

}  // namespace kvmix
