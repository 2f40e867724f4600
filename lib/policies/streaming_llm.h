#pragma once
// StreamingLLM (Xiao et al., "Efficient Streaming Language Models with Attention Sinks",
// arXiv 2309.17453, §3.2): keep the first `sinks` tokens of the sequence (the attention sinks) and
// a window of the most recent tokens; everything between is evicted.
//   capacity  n = floor(head budget / (K + V bytes of one fp16 token)), from the byte budget
//   kept      the first min(sinks, n) tokens, then the newest n - min(sinks, n) tokens
// Defaults: 4 sink tokens (the paper's choice, §4.1). The kept set is the same for every head and
// its layout is implicit (sinks, then a ring buffer), so no index is stored: 0 bytes per token.
#include "lib/policies/token_policy.h"

namespace kvmix {

struct StreamingLlmOptions {
  int64_t sinks = 4;
};

class StreamingLlmPolicy : public TokenPolicy {
 public:
  explicit StreamingLlmPolicy(StreamingLlmOptions o = {});
  std::string describe() const override;
  double per_token_bytes(const KvShape&) const override { return 0.0; }
  Allocation allocate(const PolicyStep& step, const TierCosts& costs) override;

 private:
  StreamingLlmOptions o_;
};

}  // namespace kvmix
