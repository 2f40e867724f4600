#pragma once
// TOVA, token omission via attention (Oren et al., "Transformers are Multi-State RNNs",
// arXiv 2401.06104, §4): at every step, drop the tokens to which the current (last) query pays
// the least attention, averaged over all heads of the layer; the kept set is shared by the heads.
//   score     s(j) = (1/Hq) sum_h p_h(last query -> j); at prefill the last prompt token's query
//   capacity  n = floor(head budget / (fp16 K + V bytes + index share))
//   kept      the n tokens with the largest s(j)
// No parameters. One 32-bit position index per kept token per LAYER (shared by the heads):
// 4 / kv_heads bytes per token and head.
#include "lib/policies/token_policy.h"

namespace kvmix {

class TovaPolicy : public TokenPolicy {
 public:
  std::string describe() const override { return "TOVA"; }
  double per_token_bytes(const KvShape& s) const override {
    return 4.0 / static_cast<double>(s.kv_heads);
  }
  Allocation allocate(const PolicyStep& step, const TierCosts& costs) override;
};

// The attention row of each sequence's last real query in the step, averaged over all query heads:
// [B, Tk] fp32 (zero for a sequence with no real query in the step).
at::Tensor last_query_attention(const PolicyStep& s);

}  // namespace kvmix
