#pragma once
// SnapKV (Li et al., "SnapKV: LLM Knows What You are Looking for Before Generation",
// arXiv 2404.14469, §4.2 and Listing 1): at prefill, the last `window` prompt tokens (the
// observation window) vote for the earlier tokens each head will need; their votes are pooled
// along the tokens so that a selected token brings its neighbours.
//   vote      v(j) = sum over the window's queries i and the query heads of the KV head of
//             p(i -> j), for the prompt tokens j before the window
//   pooled    c(j) = avg-pool of v over tokens, kernel k, stride 1, zero padding k/2 (counted)
//   kept      the window, then the prefix tokens with the largest c(j), up to the capacity
//             n = floor(head budget / (fp16 K + V bytes + index + score))
// Decode: SnapKV compresses the prompt only. To hold the budget at every decode step, decoded
// tokens are kept like the window (newest first) and the prefix tokens with the lowest c(j) go
// first; once no prefix token is left, the oldest of the window and the decoded tokens.
// Every step of more than one token is a prefill step (a chunked prompt re-votes).
// Defaults: window 64, kernel 5, average pooling: the defaults of the reference code's
// compression entry point (SnapKVCluster(window_size=64, max_capacity_prompt=..., kernel_size=5,
// pooling='avgpool')) and of kvpress's SnapKVPress (window_size 64, kernel_size 5). The paper's
// experiments vary the window (its Listing 1 and ablations use 32); 64 is what the code runs.
// Per kept token and head: a 32-bit position index and the fp32 score c(j), 8 bytes: decode steps
// evict by c(j), so it is state the cache must hold.
#include <vector>

#include "lib/cache/growable_tensor.h"
#include "lib/policies/token_policy.h"

namespace kvmix {

struct SnapKvOptions {
  int64_t window = 64;
  int64_t kernel = 5;  // odd
};

class SnapKvPolicy : public TokenPolicy {
 public:
  SnapKvPolicy(int64_t layers, SnapKvOptions o = {});
  std::string describe() const override;
  double per_token_bytes(const KvShape&) const override { return 8.0; }
  Allocation allocate(const PolicyStep& step, const TierCosts& costs) override;

 private:
  SnapKvOptions o_;
  std::vector<GrowableTensor> score_;  // per layer [B, Hkv, slots] double: c(j), or protected
};

// c(j) of one prefill step: the pooled votes of the last `window` real queries of the step for the
// slots before them; [B, Hkv, Tk] double, with the window's and later slots at kProtectedPriority +
// slot. Exposed for the tests.
at::Tensor snapkv_scores(const PolicyStep& s, int64_t window, int64_t kernel);

}  // namespace kvmix
