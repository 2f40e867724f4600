// The policy cache: which slots it keeps, what it stores for them, the bytes it counts (by hand),
// and the budget after every step of a real forward pass.
#include <catch2/catch.hpp>

#include "kernels/ops.h"
#include "lib/dense_attention.h"
#include "base/error.h"
#include "lib/policies/make_policy.h"
#include "lib/policies/policy_attention.h"
#include "lib/policies/policy_kv_cache.h"
#include "lib/policies/streaming_llm.h"
#include "models/llama_forward.h"
#include "tests/lib/policies/policy_test_util.h"
#include "tests/models/random_model.h"

using namespace kvmix;
using test::slots_at;
using Slots = std::vector<int64_t>;

namespace {

// fp32 attention over the same numbers in a different order of reduction
constexpr double kAttnTol = 1e-5;

// One layer, 2 KV heads of 16 channels, fp16 in the engine: one token of one head costs
// K + V = 2 * 16 * 2 = 64 bytes.
KvShape small_shape() {
  KvShape s;
  s.layers = 1, s.kv_heads = 2, s.q_heads = 2, s.head_dim = 16, s.model_dtype_bytes = 2;
  return s;
}

struct Qkv {
  at::Tensor q, k, v;
};
Qkv random_qkv(int64_t T, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return {at::randn({1, 2, T, 16}, gen), at::randn({1, 2, T, 16}, gen), at::randn({1, 2, T, 16}, gen)};
}

void step(PolicyKvCache& c, const Qkv& x) {
  c.begin_step(at::ones({1, x.q.size(2)}, at::kBool));
  c.attend(0, x.q, x.k, x.v);
}

// Keeps the newest tokens first; high tier u4, low tier u2 (per token, G = D, fp16 scale + zero).
class NewestTwoTier : public TokenPolicy {
 public:
  std::string describe() const override { return "newest, two tiers"; }
  TierFormats formats() const override {
    TierFormats f;
    f.k_high = f.v_high = uniform_format(4, QuantAxis::kPerToken, 0);
    f.k_low = f.v_low = uniform_format(2, QuantAxis::kPerToken, 0);
    return f;
  }
  Allocation allocate(const PolicyStep& s, const TierCosts& c) override {
    const int64_t Tk = s.tier.size(2);
    auto live = live_slots(s.tier);
    auto [nh, nl] = fit_two_tiers(s.head_budget, live.sum(-1), c);
    auto prio = at::arange(Tk, at::kDouble).view({1, 1, Tk}).expand(s.tier.sizes()).contiguous();
    return {prio, nh, nl};
  }
};

}  // namespace

TEST_CASE("policy attention equals dense attention over each head's kept slots", "[policies]") {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(11);
  auto q = at::randn({1, 4, 3, 8}, gen), k = at::randn({1, 2, 9, 8}, gen), v = at::randn({1, 2, 9, 8}, gen);
  auto kept = at::ones({1, 2, 9}, at::kBool);
  kept[0][0].narrow(0, 1, 3).fill_(false);  // head 0 dropped slots 1..3
  kept[0][1][0] = false;                    // head 1 dropped slot 0
  at::Tensor probs;
  auto out = policy_attention(q, k, v, kept, &probs);
  for (int64_t h = 0; h < 2; ++h) {
    auto ref = dense_attention(q.narrow(1, 2 * h, 2), k.narrow(1, h, 1), v.narrow(1, h, 1),
                               kept.select(1, h));
    CHECK((out.narrow(1, 2 * h, 2) - ref).abs().max().item<double>() < kAttnTol);
  }
  CHECK(probs[0][0].select(-1, 2).abs().max().item<double>() == 0.0);
}

TEST_CASE("StreamingLLM through the cache: kept slots and bytes at every step", "[policies]") {
  PolicyKvCache cache(small_shape(), std::make_unique<StreamingLlmPolicy>(), 0.5);
  step(cache, random_qkv(10, 1));
  // budget per head 0.5 * 10 * 64 = 320 bytes = 5 tokens: sinks 0..3 and the newest
  CHECK(slots_at(cache.tiers(0), Tier::kFull, 0) == Slots{0, 1, 2, 3, 9});
  CHECK(slots_at(cache.tiers(0), Tier::kFull, 1) == Slots{0, 1, 2, 3, 9});
  CHECK(cache.true_bytes() == 2 * 5 * 64);
  step(cache, random_qkv(1, 2));  // 11 tokens: floor(5.5) = 5
  CHECK(slots_at(cache.tiers(0), Tier::kFull) == Slots{0, 1, 2, 3, 10});
  step(cache, random_qkv(1, 3));  // 12 tokens: 6
  CHECK(slots_at(cache.tiers(0), Tier::kFull) == Slots{0, 1, 2, 3, 10, 11});
  CHECK(cache.true_bytes() == 2 * 6 * 64);
  CHECK(cache.max_budget_use() <= 1.0);
}

TEST_CASE("two-tier byte accounting by hand", "[policies]") {
  // per token and head: u4 K = 16 * 4 bits = 2 words (8 B) + fp16 scale and zero (4 B) = 12 B,
  // K + V = 24 B; u2: 1 word + 4 B = 8 B, K + V = 16 B; plus the 4 B index.
  PolicyKvCache cache(small_shape(), std::make_unique<NewestTwoTier>(), 0.375);
  CHECK(cache.costs().full == 64);
  CHECK(cache.costs().high == 24);
  CHECK(cache.costs().low == 16);
  CHECK(cache.costs().per_token == 4);
  const auto x = random_qkv(10, 4);
  step(cache, x);
  // budget per head 0.375 * 10 * 64 = 240 B; all low 10 * 20 = 200 B; 40 B left upgrade
  // floor(40 / 8) = 5 tokens: the newest 5..9 at u4, 0..4 at u2
  CHECK(slots_at(cache.tiers(0), Tier::kHigh) == Slots{5, 6, 7, 8, 9});
  CHECK(slots_at(cache.tiers(0), Tier::kLow) == Slots{0, 1, 2, 3, 4});
  CHECK(cache.layer_bytes(0).item<double>() == 2 * (5 * 28 + 5 * 20));
  CHECK(cache.true_bytes() == 480);
  // what is stored is the fake-quantized token, per tier
  const auto u2 = fake_quant(x.k.contiguous(), uniform_format(2, QuantAxis::kPerToken, 0));
  const auto u4 = fake_quant(x.k.contiguous(), uniform_format(4, QuantAxis::kPerToken, 0));
  CHECK(at::equal(cache.keys(0).narrow(2, 0, 5), u2.narrow(2, 0, 5)));
  CHECK(at::equal(cache.keys(0).narrow(2, 5, 5), u4.narrow(2, 5, 5)));
}

TEST_CASE("a budget below one token keeps nothing and costs nothing", "[policies]") {
  PolicyKvCache cache(small_shape(), std::make_unique<StreamingLlmPolicy>(), 0.05);
  step(cache, random_qkv(10, 5));  // 0.05 * 10 = half a token
  CHECK(cache.true_bytes() == 0);
  auto zero_budget = [] { PolicyKvCache c(small_shape(), std::make_unique<StreamingLlmPolicy>(), 0.0); };
  CHECK_THROWS_AS(zero_budget(), kvmix::Error);
}

TEST_CASE("every policy keeps within its budget at every step of a forward pass", "[policies]") {
  const auto kind = GENERATE(from_range(all_policies()));
  const double fraction = GENERATE(0.125, 0.25, 0.5);
  CAPTURE(policy_name(kind), fraction);
  const auto cfg = test::tiny_config(false, false, 2);
  const Model m = test::random_model(cfg);
  PolicyKvCache cache(kv_shape(cfg), make_token_policy(kind, cfg.num_layers), fraction);

  // two left-padded prompts (20 and 13 tokens), then decode steps
  auto gen = at::make_generator<at::CPUGeneratorImpl>(9);
  auto tokens = at::randint(cfg.vocab_size, {2, 20}, gen, at::kLong);
  auto valid = at::ones({2, 20}, at::kBool);
  valid[1].narrow(0, 0, 7).fill_(false);
  forward(m, tokens, valid, &cache);
  for (int i = 0; i < 16; ++i) {
    for (int64_t l = 0; l < cfg.num_layers; ++l)
      CHECK((cache.layer_bytes(l) <= cache.layer_budget()).all().item<bool>());
    auto next = at::randint(cfg.vocab_size, {2, 1}, gen, at::kLong);
    auto logits = forward(m, next, at::ones({2, 1}, at::kBool), &cache);
    CHECK(at::isfinite(logits).all().item<bool>());
  }
  CHECK(cache.max_budget_use() <= 1.0);
  CHECK(cache.true_bytes() > 0);
}
