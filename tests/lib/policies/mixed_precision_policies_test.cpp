// MiKV and ZipVL on the hand-computed six-token case (tests/lib/policies/policy_test_util.h), with
// head_dim 16: fp16 K + V = 64 bytes per token and head; per-token u2 K = one word (4 B) + fp16
// scale and zero (4 B), so K + V = 16 B; u4 K = 2 words + 4 B = 12 B, K + V = 24 B.
#include <catch2/catch.hpp>

#include "lib/policies/mikv.h"
#include "lib/policies/zipvl.h"
#include "tests/lib/policies/policy_test_util.h"

using namespace kvmix;
using test::slots_at;
using Slots = std::vector<int64_t>;

namespace {

TierCosts costs(double high, double low, double per_token, double per_head) {
  TierCosts c;
  c.full = 64, c.high = high, c.low = low, c.per_token = per_token, c.per_head = per_head;
  return c;
}

at::Tensor run(TokenPolicy& p, const TierCosts& c, double head_budget, Tier high) {
  test::HandStep hs(test::six_token_attention(), 1, head_budget, 16);
  return assign_tiers(hs.tier, p.allocate(hs.step(), c), high);
}

}  // namespace

TEST_CASE("MiKV keeps H2O's choice at high precision and the rest at low", "[policies]") {
  // fp16 high (64 B), u2 low (16 B), 8 B index + score per token, 32 B of balancer per head.
  // Budget 272 B: all six low = 6 * 24 = 144 B, 272 - 32 - 144 = 96 B upgrade 96 / 48 = 2 tokens.
  // H2O at two tokens: recent {5}, heavy {0}; the rest low.
  MikvPolicy mikv(1);
  const auto c = costs(64, 16, 8, 32);
  auto t = run(mikv, c, 272, Tier::kFull);
  CHECK(slots_at(t, Tier::kFull) == Slots{0, 5});
  CHECK(slots_at(t, Tier::kLow) == Slots{1, 2, 3, 4});
  // 128 B: not even all-low fits; (128 - 32) / 24 = 4 low tokens, chosen as H2O chooses 4: the
  // recent half {4, 5}, then the heaviest {0 (3.30), 2 (0.95)}. (The newest tokens used to go:
  // the recent window was sized by the high tier, empty under eviction, and kept {0, 1, 2, 3}.)
  MikvPolicy tight(1);
  t = run(tight, c, 128, Tier::kFull);
  CHECK(slots_at(t, Tier::kLow) == Slots{0, 2, 4, 5});
  CHECK(slots_at(t, Tier::kDropped) == Slots{1, 3});
}

TEST_CASE("MiKV's balancer is sqrt(max|q| / max|k|) per channel, in fp16", "[policies]") {
  // one query head, one KV head, two channels, two tokens
  auto q = at::tensor({4.0, 1.0, -2.0, 0.5}, at::kFloat).view({1, 1, 2, 2});
  auto k = at::tensor({1.0, -4.0, 0.5, 2.0}, at::kFloat).view({1, 1, 2, 2});
  auto b = outlier_balancer(q, k, at::ones({1, 2}, at::kBool));
  CHECK(b[0][0][0][0].item<float>() == 2.0f);  // sqrt(4 / 1)
  CHECK(b[0][0][0][1].item<float>() == 0.5f);  // sqrt(1 / 4)
  // a padding token's outlier is ignored, and a zero channel gets 1
  auto valid = at::tensor({0, 1}, at::kLong).to(at::kBool).view({1, 2});
  auto bz = outlier_balancer(q, at::zeros_like(k), valid);
  CHECK(at::equal(bz, at::ones_like(bz)));
  // the balanced key times the balanced query is the original product: (q / b)(k b)^T = q k^T
  CHECK(((q / b) * (k * b) - q * k).abs().max().item<double>() < 1e-6);
}

TEST_CASE("ZipVL's important count follows the attention mass", "[policies]") {
  // normalized scores = column sums / queries that see the column (6, 5, ..., 1):
  //   0.55, 0.17, 0.2375, 0.16, 0.15, 0.12; sorted shares of the total 1.3875:
  //   0.396, 0.568, 0.690, 0.805, 0.914, 1.0
  auto live = at::ones({1, 6}, at::kBool);
  auto s = at::tensor({0.55, 0.17, 0.2375, 0.16, 0.15, 0.12}, at::kDouble).view({1, 6});
  CHECK(tau_count(s, live, 0.6).item<int64_t>() == 3);
  CHECK(tau_count(s, live, 0.9).item<int64_t>() == 5);
  CHECK(tau_count(s, live, 1.0).item<int64_t>() == 6);

  // The policy counts p on the RAW column sums 3.30, 0.85, 0.95, 0.48, 0.30, 0.12 (total 6.0):
  // sorted shares 0.55, 0.708, ... -> tau 0.6 gives p = 2 (the normalized scores above would give
  // 3, and at tau 0.975 p = 6 of 6 against 5 from the raw sums). The normalized scores then choose
  // which two: {0 (0.55), 2 (0.2375)} at u4, the rest at u2.
  auto raw = at::tensor({3.30, 0.85, 0.95, 0.48, 0.30, 0.12}, at::kDouble).view({1, 6});
  CHECK(tau_count(raw, live, 0.6).item<int64_t>() == 2);
  CHECK(tau_count(raw, live, 0.975).item<int64_t>() == 5);
  CHECK(tau_count(s, live, 0.975).item<int64_t>() == 6);
  ZipvlPolicy zip(1, {0.6, 4, 2});
  const auto c = costs(24, 16, 4, 0);
  auto t = run(zip, c, 1000, Tier::kHigh);
  CHECK(slots_at(t, Tier::kHigh) == Slots{0, 2});
  CHECK(slots_at(t, Tier::kLow) == Slots{1, 3, 4, 5});
  // tau 0.975: p = 5 from the raw sums, so the lowest normalized score (slot 5, 0.12) stays low
  ZipvlPolicy wide(1, {0.975, 4, 2});
  t = run(wide, c, 1000, Tier::kHigh);
  CHECK(slots_at(t, Tier::kLow) == Slots{5});
  // budget 6 * 20 + 8 = 128 B: one upgrade only, the top score
  ZipvlPolicy tight(1, {0.6, 4, 2});
  t = run(tight, c, 128, Tier::kHigh);
  CHECK(slots_at(t, Tier::kHigh) == Slots{0});
  CHECK(slots_at(t, Tier::kLow) == Slots{1, 2, 3, 4, 5});
}
