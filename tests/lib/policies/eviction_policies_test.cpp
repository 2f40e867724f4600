// Eviction policies on the hand-computed six-token case (tests/lib/policies/policy_test_util.h):
// head_dim 4, so one fp16 token costs K + V = 2 * 4 * 2 = 16 bytes per head.
#include <catch2/catch.hpp>

#include <cmath>

#include "lib/policies/h2o.h"
#include "lib/policies/knorm.h"
#include "lib/policies/make_policy.h"
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

TEST_CASE("Knorm keeps each head's smallest key norms", "[policies]") {
  // head 0 norms 3 1 2 5 0.5 4 -> {1, 2, 4}; head 1 norms 1 2 3 4 5 6 -> {0, 1, 2}
  KnormPolicy knorm;
  const TierCosts c = costs_for(knorm, 2);
  CHECK(c.per_token == 4);  // the index; the norm is recomputed from the keys
  auto probs = at::cat({test::six_token_attention(), test::six_token_attention()}, 1);
  test::HandStep hs(probs, 2, 3 * (c.full + c.per_token));
  const std::vector<double> n0 = {3, 1, 2, 5, 0.5, 4}, n1 = {1, 2, 3, 4, 5, 6};
  for (int64_t j = 0; j < 6; ++j) {
    hs.keys[0][0][j][1] = n0[static_cast<size_t>(j)];  // one non-zero channel: norm = |value|
    hs.keys[0][1][j][2] = -n1[static_cast<size_t>(j)];
  }
  auto t = assign_tiers(hs.tier, knorm.allocate(hs.step(), c), Tier::kFull);
  CHECK(slots_at(t, Tier::kFull, 0) == Slots{1, 2, 4});
  CHECK(slots_at(t, Tier::kFull, 1) == Slots{0, 1, 2});
}

TEST_CASE("every policy charges its per-token state to its budget", "[policies]") {
  // Built-in model's shape: 4 query heads, 2 KV heads. Bytes per kept token and KV head:
  //   index 4 per head, or 4 / 2 when the kept set is shared by the layer's heads;
  //   state: H2O, MiKV, VidKV fp32 accumulated attention (4), SnapKV fp32 c(j) (4),
  //   ZipVL the layer's fp32 column sum (4 / 2), KVCrush 4 query heads' fp32 sums (16 / 2).
  KvShape s;
  s.layers = 1, s.kv_heads = 2, s.q_heads = 4, s.head_dim = 32;
  CHECK(make_token_policy(PolicyKind::kStreamingLlm, 1)->per_token_bytes(s) == 0);
  CHECK(make_token_policy(PolicyKind::kTova, 1)->per_token_bytes(s) == 2);
  CHECK(make_token_policy(PolicyKind::kKnorm, 1)->per_token_bytes(s) == 4);
  CHECK(make_token_policy(PolicyKind::kH2o, 1)->per_token_bytes(s) == 8);
  CHECK(make_token_policy(PolicyKind::kSnapKv, 1)->per_token_bytes(s) == 8);
  CHECK(make_token_policy(PolicyKind::kMikv, 1)->per_token_bytes(s) == 8);
  CHECK(make_token_policy(PolicyKind::kVidKv, 1)->per_token_bytes(s) == 8);
  CHECK(make_token_policy(PolicyKind::kZipvl, 1)->per_token_bytes(s) == 4);
  CHECK(make_token_policy(PolicyKind::kKvCrush, 1)->per_token_bytes(s) == 10);
  // SnapKV's default window is the reference code's (and kvpress's): 64
  CHECK(SnapKvOptions{}.window == 64);
}

namespace {

// RoPE by hand, rotate-half layout: channel i pairs with i + D/2, rotated by angle p * f[i].
std::vector<double> rope_by_hand(const std::vector<double>& x, double p, const std::vector<double>& f) {
  const size_t h = x.size() / 2;
  std::vector<double> y(x.size());
  for (size_t i = 0; i < h; ++i) {
    const double c = std::cos(p * f[i]), s = std::sin(p * f[i]);
    y[i] = x[i] * c - x[i + h] * s;
    y[i + h] = x[i + h] * c + x[i] * s;
  }
  return y;
}

}  // namespace

TEST_CASE("StreamingLLM with cache positions attends at the distances within the cache", "[policies]") {
  // Six tokens, 1..3 evicted: kept 0 (a sink), 4 and 5, the query at 5. Within the cache they sit
  // at 0, 1, 2: every q.k must be the one of the pre-RoPE vectors rotated at those positions
  // (oracle: RoPE by hand, in double; tolerance 1e-5 for the fp32 rotation).
  const std::vector<double> f = {1.0, 0.1};
  const std::vector<double> q = {0.3, -1.2, 0.8, 0.5};
  const std::vector<std::vector<double>> k = {{1.0, 0.2, -0.5, 0.7}, {0, 0, 0, 0}, {0, 0, 0, 0},
                                              {0, 0, 0, 0}, {-0.4, 0.9, 0.3, -1.1}, {0.6, -0.3, 1.2, 0.1}};
  auto stored = at::zeros({1, 1, 6, 4});
  for (int64_t j = 0; j < 6; ++j) {
    const auto r = rope_by_hand(k[static_cast<size_t>(j)], static_cast<double>(j), f);
    for (int64_t d = 0; d < 4; ++d) stored[0][0][j][d] = r[static_cast<size_t>(d)];
  }
  auto live = at::tensor({1, 0, 0, 0, 1, 1}, at::kLong).to(at::kBool).view({1, 1, 6});
  StreamingLlmOptions o;
  o.cache_positions = true;
  o.rope_inv_freq = f;
  StreamingLlmPolicy policy(o);
  const auto keys = policy.attention_keys(stored, live, at::ones({1, 6}, at::kBool));
  const auto q_cache = rope_by_hand(q, 2.0, f);
  const std::vector<std::pair<int64_t, double>> at_cache = {{0, 0.0}, {4, 1.0}, {5, 2.0}};
  for (const auto& [j, c] : at_cache) {
    const auto kc = rope_by_hand(k[static_cast<size_t>(j)], c, f);
    double expect = 0, got = 0;
    for (int64_t d = 0; d < 4; ++d) {
      expect += q_cache[static_cast<size_t>(d)] * kc[static_cast<size_t>(d)];
      got += rope_by_hand(q, 5.0, f)[static_cast<size_t>(d)] * keys[0][0][j][d].item<double>();
    }
    CHECK(std::abs(got - expect) < 1e-5);
  }
  // off (the default, and the study's): the keys as stored
  StreamingLlmPolicy original;
  CHECK(at::equal(original.attention_keys(stored, live, at::ones({1, 6}, at::kBool)), stored));
}
