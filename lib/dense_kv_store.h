#pragma once
// Growable dense storage of one layer's keys and values along the slot axis, with a validity mask.
// Capacity doubles as slots are appended, so a decode loop does not copy the whole cache per token.
#include <ATen/core/Tensor.h>

namespace kvmix {

class DenseKvStore {
 public:
  // k, v [B, Hkv, T, D]; valid [B, T] bool.
  void append(const at::Tensor& k, const at::Tensor& v, const at::Tensor& valid);

  // Replaces the contents (used by policies that evict or rewrite slots).
  void assign(const at::Tensor& k, const at::Tensor& v, const at::Tensor& valid);

  // Views of the first size() slots: [B, Hkv, size, D] and [B, size].
  at::Tensor keys() const;
  at::Tensor values() const;
  at::Tensor valid() const;
  int64_t size() const { return size_; }

 private:
  at::Tensor k_, v_, valid_;  // [B, Hkv, capacity, D], [B, capacity]
  int64_t size_ = 0;
};

}  // namespace kvmix
