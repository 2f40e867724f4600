// Eviction policies on the hand-computed six-token case (tests/lib/policies/policy_test_util.h):
// head_dim 4, so one fp16 token costs K + V = 2 * 4 * 2 = 16 bytes per head.
#include <catch2/catch.hpp>

#include "lib/policies/h2o.h"
#include "lib/policies/snapkv.h"
#include "lib/policies/streaming_llm.h"
#include "lib/policies/tova.h"
#include "tests/lib/policies/policy_test_util.h"

using namespace kvmix;
using test::slots_at;

namespace {

constexpr double kFp16TokenBytes = 16;  // K + V, head_dim 4, 2 bytes each

TierCosts costs_for(const TokenPolicy& p, int64_t kv_heads = 1) {
  KvShape s;
  s.layers = 1, s.kv_heads = kv_heads, s.q_heads = kv_heads, s.head_dim = 4;
  TierCosts c;
  c.full = c.high = c.low = kFp16TokenBytes;
  c.per_token = p.per_token_bytes(s);
  return c;
}

// Tiers after one prefill step that affords exactly `keep` tokens per head.
at::Tensor run(TokenPolicy& p, int64_t keep, at::Tensor probs = test::six_token_attention(),
               int64_t kv_heads = 1) {
  const TierCosts c = costs_for(p, kv_heads);
  test::HandStep hs(probs, kv_heads, static_cast<double>(keep) * (c.full + c.per_token));
  const Allocation a = p.allocate(hs.step(), c);
  return assign_tiers(hs.tier, a, Tier::kFull);
}

using Slots = std::vector<int64_t>;

}  // namespace

TEST_CASE("StreamingLLM keeps the sinks and the newest tokens", "[policies]") {
  StreamingLlmPolicy one_sink({1});
  CHECK(slots_at(run(one_sink, 4), Tier::kFull) == Slots{0, 3, 4, 5});
  StreamingLlmPolicy four_sinks;  // default 4 sinks, but only 3 tokens fit: sinks first
  CHECK(slots_at(run(four_sinks, 3), Tier::kFull) == Slots{0, 1, 2});
  CHECK(slots_at(run(four_sinks, 5), Tier::kFull) == Slots{0, 1, 2, 3, 5});
}

TEST_CASE("H2O keeps the heavy hitters and the recent half", "[policies]") {
  // capacity 4: recent {4, 5}; heavy among 0..3 by column sum: 0 (3.30), 2 (0.95)
  H2oPolicy h2o(1);
  CHECK(slots_at(run(h2o, 4), Tier::kFull) == Slots{0, 2, 4, 5});
  // capacity 3: recent floor(1.5) = {5}; heavy: 0, 2
  H2oPolicy h2o3(1);
  CHECK(slots_at(run(h2o3, 3), Tier::kFull) == Slots{0, 2, 5});
  // no recent window: the four largest column sums 0, 2, 1, 3
  H2oPolicy heavy_only(1, {0.0});
  CHECK(slots_at(run(heavy_only, 4), Tier::kFull) == Slots{0, 1, 2, 3});
}

TEST_CASE("H2O accumulates attention over decode steps", "[policies]") {
  H2oPolicy h2o(1, {0.0});
  const TierCosts c = costs_for(h2o);
  test::HandStep pre(test::six_token_attention(), 1, 6 * (c.full + c.per_token));
  auto tier = assign_tiers(pre.tier, h2o.allocate(pre.step(), c), Tier::kFull);
  // a decode step whose query heads put 2.0 on token 4 (0.30 -> 2.30) and 1.0 on 5 (0.12 -> 1.12)
  auto probs = at::tensor({0.0, 0.0, 0.0, 0.0, 2.0, 1.0, 0.0}, at::kFloat).view({1, 1, 1, 7});
  test::HandStep dec(probs, 1, 3 * (c.full + c.per_token));
  dec.tier = at::cat({tier, at::full({1, 1, 1}, static_cast<uint8_t>(Tier::kFull), at::kByte)}, 2);
  tier = assign_tiers(dec.tier, h2o.allocate(dec.step(), c), Tier::kFull);
  CHECK(slots_at(tier, Tier::kFull) == Slots{0, 4, 5});  // 3.30, 2.30, 1.12 beat 0.95
}

TEST_CASE("TOVA keeps what the last query attends to, the same for every head", "[policies]") {
  // last row: 0.3, 0.05, 0.25, 0.08, 0.2, 0.12 -> top 4: 0, 2, 4, 5
  TovaPolicy tova;
  CHECK(slots_at(run(tova, 4), Tier::kFull) == Slots{0, 2, 4, 5});
  // two KV heads, one query head each: head 1 looks elsewhere, the mean decides for both
  auto probs = at::zeros({1, 2, 6, 6});
  probs[0][0].copy_(test::six_token_attention()[0][0]);
  probs[0][1][5].copy_(at::tensor({0.0, 0.9, 0.0, 0.0, 0.0, 0.1}, at::kFloat));
  // mean of the last rows: 0.15, 0.475, 0.125, 0.04, 0.1, 0.11 -> top 3: 1, 0, 2
  auto tiers = run(tova, 3, probs, 2);
  CHECK(slots_at(tiers, Tier::kFull, 0) == Slots{0, 1, 2});
  CHECK(slots_at(tiers, Tier::kFull, 1) == Slots{0, 1, 2});
}

TEST_CASE("SnapKV votes with the observation window, pooled", "[policies]") {
  // window = the last 2 queries (rows 4, 5); votes for 0..3: 0.70, 0.15, 0.55, 0.18
  SnapKvPolicy no_pool(1, {2, 1});
  CHECK(slots_at(run(no_pool, 4), Tier::kFull) == Slots{0, 2, 4, 5});
  // average pooling, kernel 3, zero padding: 0.283, 0.467, 0.293, 0.243 -> 1 and 2
  SnapKvPolicy pooled(1, {2, 3});
  CHECK(slots_at(run(pooled, 4), Tier::kFull) == Slots{1, 2, 4, 5});
  // less room than the window: the newest window tokens
  SnapKvPolicy small(1, {2, 3});
  CHECK(slots_at(run(small, 1), Tier::kFull) == Slots{5});
}
