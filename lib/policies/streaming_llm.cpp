#include "lib/policies/streaming_llm.h"

#include <ATen/ATen.h>
#include <spdlog/fmt/fmt.h>

#include "base/error.h"

namespace kvmix {

StreamingLlmPolicy::StreamingLlmPolicy(StreamingLlmOptions o) : o_(o) {
  KVMIX_CHECK(o_.sinks >= 0, "StreamingLLM: sink tokens must be >= 0, got {}", o_.sinks);
}

std::string StreamingLlmPolicy::describe() const {
  return fmt::format("StreamingLLM (sinks {})", o_.sinks);
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
