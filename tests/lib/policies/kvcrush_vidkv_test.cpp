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
  // Values: ternary 16 trits -> 1 word + fp16 scale = 6 B; salient u2: 1 word + 4 B = 8 B.
  VidKvPolicy vid(1);
  KvShape s;
  s.kv_heads = 1, s.head_dim = 16, s.model_dtype_bytes = 2;
  CHECK(vid.wide_count(16) == 4);
  CHECK(vid.tier_bytes(s, Tier::kLow) == 14 + 6);
  CHECK(vid.tier_bytes(s, Tier::kHigh) == 14 + 8);
  CHECK(vid.per_head_bytes(s) == 2);  // the 16-channel mask
}
