#pragma once
// The KV cache of the token-importance policies (lib/policies/token_policy.h): every layer keeps
// its slots densely (as they are attended: dequantized where a tier is quantized) with a tier per
// (sequence, KV head, slot). Attention runs only over each head's kept slots. After each layer's
// attention the policy allocates tiers, the cache quantizes the slots that moved to a quantized
// tier, and checks the budget: a policy that exceeds it is a bug (KVMIX_ASSERT).
//
// Bytes are counted as an engine would store the kept tokens: per kept token and head, K + V at
// its tier (model dtype, or codes + scales + zeros of the tier's formats), plus the policy's index
// and state bytes; plus the policy's fixed bytes per head and layer. Padding and dropped slots
// cost nothing (the dense storage here is a simulation device, not what is counted).
#include <memory>
#include <vector>

#include "lib/cache/dense_kv_store.h"
#include "lib/cache/growable_tensor.h"
#include "lib/cache/kv_cache.h"
#include "lib/policies/token_policy.h"

namespace kvmix {

class PolicyKvCache : public KvCache {
 public:
  // budget_fraction in (0, 1]: of the fp16 cache of the tokens seen, per sequence and layer.
  PolicyKvCache(const KvShape& shape, std::unique_ptr<TokenPolicy> policy, double budget_fraction);

  at::Tensor attend(int64_t layer, const at::Tensor& q, const at::Tensor& k,
                    const at::Tensor& v) override;
  int64_t true_bytes() const override;
  std::string describe() const override;

  // Tiers of one layer's slots [B, Hkv, slots] uint8 (Tier).
  at::Tensor tiers(int64_t layer) const;
  // Keys and values of one layer as attended (dequantized), [B, Hkv, slots, D].
  at::Tensor keys(int64_t layer) const;
  at::Tensor values(int64_t layer) const;
  // Bytes one layer holds per sequence [B] double, and the budget per sequence and layer [B].
  at::Tensor layer_bytes(int64_t layer) const;
  at::Tensor layer_budget() const;
  // Largest bytes / budget seen after any step of any layer (<= 1 by construction).
  double max_budget_use() const { return max_budget_use_; }
  const TierCosts& costs() const { return costs_; }

  // Prefill-time compression only (how kvpress applies its presses): the policy allocates after
  // each layer's first step; later steps append their tokens in the model dtype and evict nothing,
  // so the budget is not held after the first step. For cross-checks with kvpress; the study holds
  // the budget at every step.
  void set_prefill_only(bool on) { prefill_only_ = on; }
  const TokenPolicy& policy() const { return *policy_; }

 private:
  struct Layer {
    DenseKvStore store;
    GrowableTensor tier{2};  // [B, Hkv, slots] uint8
    int64_t steps = 0;
  };
  void apply_allocation(int64_t layer, Layer& L, const Allocation& a);
  double tier_cost(Tier t) const;

  std::unique_ptr<TokenPolicy> policy_;
  double fraction_;
  Tier high_tier_;  // the tier n_high maps to: kFull when the high format is the model dtype
  TierCosts costs_;
  std::vector<Layer> layers_;
  double max_budget_use_ = 0;
  bool prefill_only_ = false;
};

// The budget fraction under which a one-tier eviction policy keeps floor(kept * tokens) tokens per
// head after a step (prefill-time compression at a kept fraction, as kvpress states it): the
// fp16 bytes of kept * tokens, plus the policy's per-token bytes for each. The factor 1 + 1e-12
// keeps an exact product from rounding below its whole count. Throws kvmix::Error when the
// result is not a fraction in (0, 1] (kept too close to 1 for the policy's per-token bytes) or
// the policy holds per-head bytes (the count would then depend on the length).
double kept_fraction_budget(const KvShape& shape, const TokenPolicy& policy, double kept);

}  // namespace kvmix
