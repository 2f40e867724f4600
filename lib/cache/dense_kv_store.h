#pragma once
// Dense storage of one layer's keys and values along the slot axis, with a validity mask.
#include <ATen/core/Tensor.h>

#include "lib/cache/growable_tensor.h"

namespace kvmix {

class DenseKvStore {
 public:
  // k, v [B, Hkv, T, D]; valid [B, T] bool.
  void append(const at::Tensor& k, const at::Tensor& v, const at::Tensor& valid) {
    k_.append(k), v_.append(v), valid_.append(valid);
  }
  // Views of all slots: [B, Hkv, size, D] and [B, size]; writes go into the store.
  at::Tensor keys() const { return k_.view(); }
  at::Tensor values() const { return v_.view(); }
  at::Tensor valid() const { return valid_.view(); }
  int64_t size() const { return k_.size(); }

 private:
  GrowableTensor k_{2}, v_{2}, valid_{1};
};

}  // namespace kvmix
