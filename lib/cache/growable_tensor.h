#pragma once
// A tensor that grows along one dimension with doubling capacity, so appending a token per decode
// step costs amortized O(1) copies instead of re-concatenating the whole cache.
#include <ATen/core/Tensor.h>

namespace kvmix {

class GrowableTensor {
 public:
  explicit GrowableTensor(int64_t dim = 2) : dim_(dim) {}
  void append(const at::Tensor& t);
  void clear() { size_ = 0; }
  // The first size() entries along the growth dimension (a view: writes go into the buffer).
  at::Tensor view() const;
  int64_t size() const { return size_; }
  bool defined() const { return buf_.defined(); }
  // Bytes of the live part (what is held, not the spare capacity).
  int64_t live_bytes() const;

 private:
  int64_t dim_;
  at::Tensor buf_;
  int64_t size_ = 0;
};

}  // namespace kvmix
