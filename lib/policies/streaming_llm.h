#pragma once
// StreamingLLM (Xiao et al., "Efficient Streaming Language Models with Attention Sinks",
// arXiv 2309.17453, §3.2): keep the first `sinks` tokens of the sequence (the attention sinks) and
// a window of the most recent tokens; everything between is evicted.
//   capacity  n = floor(head budget / (K + V bytes of one fp16 token)), from the byte budget
//   kept      the first min(sinks, n) tokens, then the newest n - min(sinks, n) tokens
// Positions: the paper (§3.2) gives each cached token its position WITHIN the cache (the sinks 0..3,
// the window after them, the query next), not its position in the text: its code caches keys
// before RoPE and rotates them at their cache positions every step. With cache_positions set (and
// the model's RoPE inv_freq given), the attention reads each kept key re-rotated to that position:
// a key followed by e evicted tokens moves e positions closer to the query (a rotation by e *
// inv_freq, RoPE's rotations compose), so every query-key distance is the cache-position one.
// Off by default: the study keeps original positions, as kvpress's StreamingLLMPress does unless
// wrapped in its KeyRerotationPress; with 4 sinks only the sinks' distances differ.
// Defaults: 4 sink tokens (the paper's choice, §4.1). The kept set is the same for every head and
// its layout is implicit (sinks, then a ring buffer), so no index is stored: 0 bytes per token.
#include <vector>

#include "lib/policies/token_policy.h"

namespace kvmix {

struct StreamingLlmOptions {
  int64_t sinks = 4;
  bool cache_positions = false;       // positions within the cache (the paper's) instead of the text's
  std::vector<double> rope_inv_freq{};  // [D/2], the model's RoPE (rotate-half layout): needed by it
};

class StreamingLlmPolicy : public TokenPolicy {
 public:
  explicit StreamingLlmPolicy(StreamingLlmOptions o = {});
  std::string describe() const override;
  double per_token_bytes(const KvShape&) const override { return 0.0; }
  Allocation allocate(const PolicyStep& step, const TierCosts& costs) override;
  at::Tensor attention_keys(const at::Tensor& keys, const at::Tensor& live,
                            const at::Tensor& slot_valid) const override;

 private:
  StreamingLlmOptions o_;
};

// Keys [B, H, T, D] in RoPE's rotate-half layout, each rotated by `shift` [B, H, T] positions
// further: x cos(shift * f) + rotate_half(x) sin(shift * f), f = inv_freq [D/2].
at::Tensor rope_shift(const at::Tensor& keys, const at::Tensor& shift,
                      const std::vector<double>& inv_freq);

}  // namespace kvmix
