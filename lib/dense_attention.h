#pragma once
// Dense grouped-query attention over materialized keys and values: the reference every KV cache
// reduces to (or is tested against). Softmax in fp32.
#include <ATen/core/Tensor.h>

namespace kvmix {

// q [B, Hq, Tq, D]; k, v [B, Hkv, Tk, D] with Hq a multiple of Hkv (query head h reads KV head
// h / (Hq/Hkv), as Hugging Face's repeat_kv does). The Tq queries are the LAST Tq slots of the Tk
// keys (causal: query i sees key slots j <= Tk - Tq + i). key_valid [B, Tk] bool marks real
// tokens (padding and evicted slots are false); undefined means all valid.
// Returns the output [B, Hq, Tq, D] in q's dtype; when probs is non-null it receives the attention
// probabilities [B, Hq, Tq, Tk] (fp32). A query with no visible key gets a zero output.
at::Tensor dense_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                           const at::Tensor& key_valid, at::Tensor* probs = nullptr);

}  // namespace kvmix
