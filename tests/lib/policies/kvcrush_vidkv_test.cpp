// KVCrush's representatives and VidKV's 1.x-bit formulas, by hand.
#include <catch2/catch.hpp>

#include "kernels/ops.h"
#include "lib/policies/kvcrush.h"
#include "lib/policies/vidkv.h"
#include "tests/lib/policies/policy_test_util.h"

using namespace kvmix;
using test::slots_at;
using Slots = std::vector<int64_t>;

TEST_CASE("KVCrush picks representatives evenly over the Hamming order", "[policies]") {
  // three heads, slots 1..6 evicted; columns (h0 h1 h2):
  //   1: 110  2: 000  3: 111  4: 100  5: 011  6: 001
  // each head has the bit in 3 of 6 candidates -> majority anchor 111; distances
  //   1: 1  2: 3  3: 0  4: 2  5: 1  6: 2;  order by (distance, slot): 3 1 5 4 6 2
  auto bits = at::tensor({0, 1, 0, 1, 1, 0, 0, 0,    //
                          0, 1, 0, 1, 0, 1, 0, 0,    //
                          0, 0, 0, 1, 0, 1, 1, 0},
                         at::kLong)
                  .view({3, 8})
                  .to(at::kBool);
  auto cand = at::zeros({8}, at::kBool);
  cand.narrow(0, 1, 6).fill_(true);
  // r = 2: order positions floor(6/4) = 1 and floor(18/4) = 4 -> slots 1 and 6
  CHECK(crush_representatives(bits, cand, 2) == Slots{1, 6});
  // r = 3: positions 1, 3, 5 -> slots 1, 4, 2
  CHECK(crush_representatives(bits, cand, 3) == Slots{1, 2, 4});
  CHECK(crush_representatives(bits, cand, 0).empty());
  CHECK(crush_representatives(bits, cand, 9).size() == 6);
}

TEST_CASE("KVCrush keeps H2O's choice plus a representative of the evicted", "[policies]") {
  // capacity 4, crush 0.25: one representative, H2O keeps 3: recent {5}, heavy {0, 2}.
  // One head: only token 0 is above the mean (1.0) -> candidates 1, 3, 4 all 0, anchor 0,
  // distances 0, order 1 3 4, r = 1 takes position floor(3/2) = 1: slot 3.
  KvCrushPolicy crush(1);
  KvShape s;
  s.kv_heads = 1, s.head_dim = 4;
  TierCosts c;
  c.full = c.high = c.low = 16;
  c.per_token = crush.per_token_bytes(s);
  test::HandStep hs(test::six_token_attention(), 1, 4 * (c.full + c.per_token));
  auto t = assign_tiers(hs.tier, crush.allocate(hs.step(), c), Tier::kFull);
  CHECK(slots_at(t, Tier::kFull) == Slots{0, 2, 3, 5});
}

TEST_CASE("KVCrush's head-behaviour vector has one bit per query head", "[policies]") {
  // Two query heads share one KV head. Only the last query row carries attention:
  //   head 0: 0.5 0.3 0.2 0   0 0      head 1: 0.5 0.3 0 0.2 0 0
  // capacity 4, crush 0.25: one representative; H2O on the summed score 1.0 0.6 0.2 0.2 0 0 keeps
  // recent {5} and heavy {0, 1}. Candidates 2, 3, 4; each head's mean is 1/6, so the bits
  // (head 0, head 1) are 2: 10, 3: 01, 4: 00; majority anchor 00; distances 1, 1, 0; order 4 2 3;
  // the representative at position floor(3/2) = 1 is slot 2.
  // One bit per KV head (the summed score against its mean 1/3) gives every candidate 0 and picks
  // slot 3 by position: the bug this catches.
  auto probs = at::zeros({1, 2, 6, 6});
  probs[0][0][5].copy_(at::tensor({0.5, 0.3, 0.2, 0.0, 0.0, 0.0}, at::kFloat));
  probs[0][1][5].copy_(at::tensor({0.5, 0.3, 0.0, 0.2, 0.0, 0.0}, at::kFloat));
  KvCrushPolicy crush(1);
  KvShape s;
  s.kv_heads = 1, s.q_heads = 2, s.head_dim = 4;
  CHECK(crush.per_token_bytes(s) == 12);  // shared index 4 B + two fp32 head scores
  TierCosts c;
  c.full = c.high = c.low = 16;
  c.per_token = crush.per_token_bytes(s);
  test::HandStep hs(probs, 1, 4 * (c.full + c.per_token));
  auto t = assign_tiers(hs.tier, crush.allocate(hs.step(), c), Tier::kFull);
  CHECK(slots_at(t, Tier::kFull) == Slots{0, 1, 2, 5});
}

TEST_CASE("VidKV's values: ternary per channel over complete token groups", "[policies]") {
  // Oracle: the kernels' ternary format (kernels/quant_format.h), per channel with groups of G
  // tokens; a remainder of fewer than G moved tokens is ternary per token. Tolerance 1e-6: the
  // same formula and fp16 scale rounding, computed in another order.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
  auto x = at::randn({1, 2, 40, 8}, gen);
  auto all = at::ones({1, 2, 40}, at::kBool);
  auto y = vidkv_quantize_values(x, all, 16);
  auto whole = fake_quant(x.narrow(2, 0, 32).contiguous(), ternary_format(QuantAxis::kPerChannel, 16));
  auto rest = fake_quant(x.narrow(2, 32, 8).contiguous(), ternary_format(QuantAxis::kPerToken, 0));
  CHECK((y.narrow(2, 0, 32) - whole).abs().max().item<double>() < 1e-6);
  CHECK((y.narrow(2, 32, 8) - rest).abs().max().item<double>() < 1e-6);
  // per channel: a channel of one group takes one of three values s * {-1, 0, 1}
  auto ch = y[0][0].narrow(0, 0, 16).select(1, 3).abs();
  CHECK(ch.eq(0).logical_or(ch.eq(ch.max())).all().item<bool>());
  // only moved slots change, and a group is formed by the moved slots in order, skipping the
  // others: moving every other slot of 32 gives one complete group of 16
  auto every_other = at::arange(40).remainder(2).eq(0).logical_and(at::arange(40).lt(32)).view({1, 1, 40})
                         .expand({1, 2, 40}).contiguous();
  auto z = vidkv_quantize_values(x, every_other, 16);
  auto idx = at::arange(0, 32, 2);
  auto expect = fake_quant(x.index_select(2, idx).contiguous(), ternary_format(QuantAxis::kPerChannel, 16));
  CHECK((z.index_select(2, idx) - expect).abs().max().item<double>() < 1e-6);
  auto untouched = at::arange(1, 40, 2);
  CHECK(at::equal(z.index_select(2, untouched), x.index_select(2, untouched)));
}

TEST_CASE("VidKV keeps its fp16 window and the recent tokens whatever the budget", "[policies]") {
  // value_group 4: six tokens leave 6 mod 4 = 2 in the fp16 window, {4, 5}. Costs (bytes per
  // token and head): fp16 64, high 24, low 16, plus 8 of index and score.
  VidKvOptions o;
  o.value_group = 4;
  TierCosts c;
  c.full = 64, c.high = 24, c.low = 16, c.per_token = 8;
  // room for everything: {4, 5} fp16, the salient ceil(0.1 * 4) = 1 of the rest (slot 0, 3.30) at
  // high, the rest low: 2 * 72 + 32 + 3 * 24 = 248 B
  {
    VidKvPolicy vid(1, o);
    test::HandStep hs(test::six_token_attention(), 1, 248, 16);
    auto t = assign_tiers(hs.tier, vid.allocate(hs.step(), c), Tier::kHigh);
    CHECK(slots_at(t, Tier::kFull) == Slots{4, 5});
    CHECK(slots_at(t, Tier::kHigh) == Slots{0});
    CHECK(slots_at(t, Tier::kLow) == Slots{1, 2, 3});
  }
  // 2 * 72 + 2 * 24 = 192 B: the window, then two low tokens chosen as H2O chooses two: the
  // recent one (3) and the heaviest (0). Accumulated attention alone would keep {0, 2} and, with
  // no window, the newest tokens would go first.
  {
    VidKvPolicy vid(1, o);
    test::HandStep hs(test::six_token_attention(), 1, 192, 16);
    auto t = assign_tiers(hs.tier, vid.allocate(hs.step(), c), Tier::kHigh);
    CHECK(slots_at(t, Tier::kFull) == Slots{4, 5});
    CHECK(slots_at(t, Tier::kLow) == Slots{0, 3});
    CHECK(slots_at(t, Tier::kDropped) == Slots{1, 2});
  }
}

TEST_CASE("VidKV's 1-bit key channels: the sign of the FFT times its mean magnitude", "[policies]") {
  // x = 1 2 3 4: rfft = 10, -2+2i, -2; independent reals 10, -2, -2, 2; s = mean|.| = 4;
  // signs + - - + -> 4, -4+4i, -4; irfft -> -2 0 2 4
  auto x = at::tensor({1.0f, 2.0f, 3.0f, 4.0f}).view({1, 4});
  auto y = fft_sign_quantize(x);
  auto expect = at::tensor({-2.0f, 0.0f, 2.0f, 4.0f}).view({1, 4});
  CHECK((y - expect).abs().max().item<double>() < 1e-5);
}

TEST_CASE("VidKV's keys: anomalous channels at 2 bits, the rest after the FFT", "[policies]") {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  auto x = at::randn({1, 1, 5, 8}, gen);
  auto wide = at::zeros({1, 1, 8}, at::kBool);
  wide[0][0][2] = true, wide[0][0][6] = true;
  auto y = vidkv_quantize_keys(x, wide);
  auto idx_w = at::tensor({2, 6}, at::kLong), idx_n = at::tensor({0, 1, 3, 4, 5, 7}, at::kLong);
  auto expect_w = fake_quant(x.index_select(3, idx_w).contiguous(), uniform_format(2, QuantAxis::kPerToken, 0));
  auto expect_n = fft_sign_quantize(x.index_select(3, idx_n).contiguous());
  CHECK(at::allclose(y.index_select(3, idx_w), expect_w));
  CHECK(at::allclose(y.index_select(3, idx_n), expect_n));
}

TEST_CASE("VidKV's bytes per token by hand", "[policies]") {
  // D = 16, ceil(0.2 * 16) = 4 anomalous channels: 8 bits -> 1 word (4 B) + fp16 scale and zero
  // (4 B) = 8 B; 12 FFT channels at 1 bit: 1 word + fp16 scale = 6 B; key 14 B.
  // Values: ternary per channel over groups of 32 tokens: per channel and group 32 trits -> 2 words
  // + fp16 scale = 10 B, 16 channels / 32 tokens = 5 B per token; salient u2 per token: 1 word +
  // 4 B = 8 B. Index and accumulated attention: 8 B per token.
  VidKvPolicy vid(1);
  KvShape s;
  s.kv_heads = 1, s.head_dim = 16, s.model_dtype_bytes = 2;
  CHECK(vid.wide_count(16) == 4);
  CHECK(vid.tier_bytes(s, Tier::kLow) == 14 + 5);
  CHECK(vid.tier_bytes(s, Tier::kHigh) == 14 + 8);
  CHECK(vid.per_head_bytes(s) == 2);  // the 16-channel mask
  CHECK(vid.per_token_bytes(s) == 8);
}
