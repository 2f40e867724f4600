#include "lib/policies/streaming_llm.h"

#include <ATen/ATen.h>
#include <spdlog/fmt/fmt.h>

#include <utility>

#include "base/error.h"

namespace kvmix {

StreamingLlmPolicy::StreamingLlmPolicy(StreamingLlmOptions o) : o_(std::move(o)) {
  KVMIX_CHECK(o_.sinks >= 0, "StreamingLLM: sink tokens must be >= 0, got {}", o_.sinks);
  KVMIX_CHECK(!o_.cache_positions || !o_.rope_inv_freq.empty(),
              "StreamingLLM: positions within the cache need the model's RoPE frequencies");
}

std::string StreamingLlmPolicy::describe() const {
  return o_.cache_positions ? fmt::format("StreamingLLM (sinks {}, cache positions)", o_.sinks)
                            : fmt::format("StreamingLLM (sinks {})", o_.sinks);
}

at::Tensor rope_shift(const at::Tensor& keys, const at::Tensor& shift,
                      const std::vector<double>& inv_freq) {
  const int64_t half = keys.size(-1) / 2;
  KVMIX_ASSERT(static_cast<int64_t>(inv_freq.size()) == half, "inv_freq has {} entries for D = {}",
               inv_freq.size(), keys.size(-1));
  auto f = at::tensor(inv_freq, at::kDouble).to(keys.device());
  auto ang = (shift.to(at::kDouble).unsqueeze(-1) * f).to(at::kFloat);  // [B, H, T, D/2]
  auto cos = at::cat({ang.cos(), ang.cos()}, -1), sin = at::cat({ang.sin(), ang.sin()}, -1);
  auto x = keys.to(at::kFloat);
  auto rotated = at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
  return (x * cos + rotated * sin).to(keys.scalar_type());
}

at::Tensor StreamingLlmPolicy::attention_keys(const at::Tensor& keys, const at::Tensor& live,
                                              const at::Tensor& slot_valid) const {
  if (!o_.cache_positions) return keys;
  // evicted real slots after each slot: the positions the cache closes up between it and the query
  auto evicted = slot_valid.unsqueeze(1).logical_and(live.logical_not()).to(at::kLong);
  auto after = evicted.flip(-1).cumsum(-1).flip(-1) - evicted;
  if (!after.any().item<bool>()) return keys;
  return rope_shift(keys, after, o_.rope_inv_freq);
}

Allocation StreamingLlmPolicy::allocate(const PolicyStep& s, const TierCosts& c) {
  const int64_t Hkv = s.tier.size(1), Tk = s.tier.size(2);
  const auto live = live_slots(s.tier);
  const auto n_keep = fit_one_tier(s.head_budget, live.sum(-1), c.full, c);
  // sinks above everything (earlier sinks first), then newer slots above older ones
  auto pos = sequence_positions(s.slot_valid).unsqueeze(1).expand({-1, Hkv, -1});
  auto slot = at::arange(Tk, pos.options()).view({1, 1, Tk}).expand_as(pos);
  auto priority = at::where(pos.lt(o_.sinks).logical_and(pos.ge(0)),
                            2 * kProtectedPriority - slot.to(at::kDouble), slot.to(at::kDouble));
  return {priority, n_keep, at::zeros_like(n_keep)};
}

}  // namespace kvmix
