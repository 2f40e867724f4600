#pragma once
// Grouped-query attention where each KV head keeps its own subset of slots: the attention of the
// eviction and importance policies. Same conventions as lib/dense_attention.h (dense_attention), except
// that validity is per KV head.
#include <ATen/core/Tensor.h>

namespace kvmix {

// q [B, Hq, Tq, D]; k, v [B, Hkv, Tk, D]; kept [B, Hkv, Tk] bool (false: dropped or padding).
// The Tq queries are the last Tq slots (causal within the step). Returns [B, Hq, Tq, D] in q's
// dtype; probs (if non-null) receives [B, Hq, Tq, Tk] fp32. A query that sees no slot gets zeros.
at::Tensor policy_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const at::Tensor& kept, at::Tensor* probs = nullptr);

}  // namespace kvmix
