#pragma once
// The full-precision cache: keys and values kept as computed. The reference every other cache is
// measured against.
#include <vector>

#include "lib/cache/dense_kv_store.h"
#include "lib/cache/kv_cache.h"

namespace kvmix {

class FullKvCache : public KvCache {
 public:
  explicit FullKvCache(const KvShape& shape);
  at::Tensor attend(int64_t layer, const at::Tensor& q, const at::Tensor& k,
                    const at::Tensor& v) override;
  int64_t true_bytes() const override;
  std::string describe() const override { return "full precision"; }

  const DenseKvStore& layer(int64_t l) const { return layers_.at(static_cast<size_t>(l)); }

 private:
  std::vector<DenseKvStore> layers_;
};

}  // namespace kvmix
