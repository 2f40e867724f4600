#include "lib/policies/policy_kv_cache.h"

#include <ATen/ATen.h>
#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <cmath>

#include "base/error.h"
#include "lib/policies/policy_attention.h"

namespace kvmix {
namespace {

// Relative slack of the budget check: byte counts are sums of at most a few million terms of a
// few bytes each, exact in double; the slack only absorbs the fractional shared-index share.
constexpr double kBudgetSlack = 1e-9;

uint8_t u8(Tier t) { return static_cast<uint8_t>(t); }

}  // namespace

PolicyKvCache::PolicyKvCache(const KvShape& shape, std::unique_ptr<TokenPolicy> policy,
                             double budget_fraction)
    : KvCache(shape),
      policy_(std::move(policy)),
      fraction_(budget_fraction),
      layers_(static_cast<size_t>(shape.layers)) {
  KVMIX_CHECK(budget_fraction > 0 && budget_fraction <= 1,
              "policy budget must be a fraction of the fp16 cache in (0, 1], got {}",
              budget_fraction);
  KVMIX_ASSERT(policy_ != nullptr);
  const TierFormats f = policy_->formats();
  costs_.full = 2.0 * static_cast<double>(shape.head_dim * shape.model_dtype_bytes);
  const bool high_quantized = f.k_high.kind != QuantKind::kNone || f.v_high.kind != QuantKind::kNone;
  high_tier_ = high_quantized ? Tier::kHigh : Tier::kFull;
  costs_.high = high_quantized ? policy_->tier_bytes(shape, Tier::kHigh) : costs_.full;
  const bool low_used = f.k_low.kind != QuantKind::kNone || f.v_low.kind != QuantKind::kNone;
  costs_.low = low_used ? policy_->tier_bytes(shape, Tier::kLow) : costs_.high;
  costs_.per_token = policy_->per_token_bytes(shape);
  costs_.per_head = policy_->per_head_bytes(shape);
}

double PolicyKvCache::tier_cost(Tier t) const {
  switch (t) {
    case Tier::kFull: return costs_.full;
    case Tier::kHigh: return costs_.high;
    case Tier::kLow: return costs_.low;
    case Tier::kDropped: return 0;
  }
  return 0;
}

at::Tensor PolicyKvCache::attend(int64_t layer, const at::Tensor& q, const at::Tensor& k,
                                 const at::Tensor& v) {
  Layer& L = layers_.at(static_cast<size_t>(layer));
  const int64_t before = L.store.size();
  const auto& valid = step_valid();  // [B, Tq]
  L.store.append(k, v, valid);
  const int64_t Hkv = k.size(1);
  auto new_tier = at::where(valid, at::full({}, u8(Tier::kFull), valid.options().dtype(at::kByte)),
                            at::full({}, u8(Tier::kDropped), valid.options().dtype(at::kByte)));
  L.tier.append(new_tier.unsqueeze(1).expand({-1, Hkv, -1}).contiguous());

  auto keys = L.store.keys(), values = L.store.values(), tier = L.tier.view();
  at::Tensor probs;
  const auto live = live_slots(tier);
  auto out = policy_attention(q, policy_->attention_keys(keys, live, L.store.valid()), values, live,
                              &probs);
  if (observer()) {
    auto key_valid = L.store.valid();
    observer()->on_attention({layer, q, k, v, keys, values, key_valid, probs, out});
  }

  if (prefill_only_ && L.steps++ > 0) return out;
  // Rows of padding queries are not attention anyone paid; zero them for the policy.
  auto qmask = valid.to(at::kFloat).view({valid.size(0), 1, valid.size(1), 1});
  probs = probs * qmask;
  const auto head_budget = layer_budget() / static_cast<double>(Hkv);
  const auto slot_valid = L.store.valid();
  const PolicyStep step{layer, q, keys, probs, valid, slot_valid, tier, head_budget, before};
  const Allocation a = policy_->allocate(step, costs_);
  apply_allocation(layer, L, a);
  return out;
}

void PolicyKvCache::apply_allocation(int64_t layer, Layer& L, const Allocation& a) {
  auto tier = L.tier.view();
  const int64_t B = tier.size(0), Tk = tier.size(2);
  // sequences with no real token in this step keep their tiers
  auto next = assign_tiers(tier, a, high_tier_);
  auto stepped = step_valid().any(1).view({B, 1, 1});
  next = at::where(stepped, next, tier);

  // quantize the slots that moved to a quantized tier, from the first such slot on
  auto to_high = next.eq(u8(Tier::kHigh)).logical_and(tier.ne(u8(Tier::kHigh)));
  auto to_low = next.eq(u8(Tier::kLow)).logical_and(tier.ne(u8(Tier::kLow)));
  auto moved = to_high.logical_or(to_low).any(0).any(0);  // [Tk]
  if (moved.any().item<bool>()) {
    const int64_t from = moved.to(at::kLong).argmax().item<int64_t>();
    const int64_t n = Tk - from;
    auto m_high = to_high.narrow(2, from, n).unsqueeze(-1);
    auto m_low = to_low.narrow(2, from, n).unsqueeze(-1);
    auto from_full = tier.narrow(2, from, n).eq(u8(Tier::kFull)).unsqueeze(-1);
    for (bool is_key : {true, false}) {
      auto x = (is_key ? L.store.keys() : L.store.values()).narrow(2, from, n);
      auto xc = x.contiguous();
      auto result = xc;
      auto low = is_key && policy_->keys_tier_independent() ? m_low.logical_and(from_full) : m_low;
      if (m_high.any().item<bool>())
        result = at::where(m_high, policy_->quantize(layer, Tier::kHigh, is_key, xc,
                                                     m_high.squeeze(-1)), result);
      if (low.any().item<bool>())
        result = at::where(low, policy_->quantize(layer, Tier::kLow, is_key, xc, low.squeeze(-1)),
                           result);
      x.copy_(result);
    }
  }
  tier.copy_(next);

  const auto bytes = layer_bytes(layer), budget = layer_budget();
  const auto use = bytes / budget.clamp_min(1e-300);
  const double worst = use.max().item<double>();
  max_budget_use_ = std::max(max_budget_use_, worst);
  KVMIX_ASSERT(worst <= 1 + kBudgetSlack, "{}: layer {} holds {} bytes, budget {} ({}x)",
               policy_->describe(), layer, bytes.max().item<double>(),
               budget.max().item<double>(), worst);
}

at::Tensor PolicyKvCache::tiers(int64_t layer) const {
  return layers_.at(static_cast<size_t>(layer)).tier.view();
}
at::Tensor PolicyKvCache::keys(int64_t layer) const {
  return layers_.at(static_cast<size_t>(layer)).store.keys();
}
at::Tensor PolicyKvCache::values(int64_t layer) const {
  return layers_.at(static_cast<size_t>(layer)).store.values();
}

at::Tensor PolicyKvCache::layer_bytes(int64_t layer) const {
  const Layer& L = layers_.at(static_cast<size_t>(layer));
  if (!L.tier.defined() || L.tier.size() == 0) {
    // Before the first step nothing says where the cache lives; the host then.
    const at::Tensor& seen = tokens_seen();
    const at::Device device = seen.defined() ? seen.device() : at::Device(at::kCPU);
    return at::zeros({batch()}, at::TensorOptions().dtype(at::kDouble).device(device));
  }
  auto tier = L.tier.view();
  auto per_slot = at::zeros(tier.sizes(), tier.options().dtype(at::kDouble));
  for (Tier t : {Tier::kFull, Tier::kHigh, Tier::kLow})
    per_slot += tier.eq(u8(t)).to(at::kDouble) * (tier_cost(t) + costs_.per_token);
  auto per_head = per_slot.sum(-1);                                          // [B, Hkv]
  auto fixed = live_slots(tier).any(-1).to(at::kDouble) * costs_.per_head;  // [B, Hkv]
  return (per_head + fixed).sum(-1);
}

at::Tensor PolicyKvCache::layer_budget() const {
  const auto& s = shape();
  return tokens_seen().to(at::kDouble) * (fraction_ * costs_.full * static_cast<double>(s.kv_heads));
}

int64_t PolicyKvCache::true_bytes() const {
  double total = 0;
  for (int64_t l = 0; l < shape().layers; ++l) total += layer_bytes(l).sum().item<double>();
  return static_cast<int64_t>(std::ceil(total));
}

double kept_fraction_budget(const KvShape& shape, const TokenPolicy& policy, double kept) {
  const double full = 2.0 * static_cast<double>(shape.head_dim * shape.model_dtype_bytes);
  KVMIX_CHECK(policy.per_head_bytes(shape) == 0,
              "{}: a kept fraction needs a policy without per-head bytes", policy.describe());
  const double b = kept * (full + policy.per_token_bytes(shape)) / full * (1 + 1e-12);
  KVMIX_CHECK(kept > 0 && b <= 1, "{}: kept fraction {} is not in (0, {:.4f}]", policy.describe(),
              kept, full / (full + policy.per_token_bytes(shape)));
  return b;
}

std::string PolicyKvCache::describe() const {
  return fmt::format("{} at {:.1f}% of fp16", policy_->describe(), 100.0 * fraction_);
}

}  // namespace kvmix
