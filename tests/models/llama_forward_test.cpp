#include <catch2/catch.hpp>

#include "lib/cache/full_kv_cache.h"
#include "models/llama_forward.h"
#include "tests/models/random_model.h"

using namespace kvmix;

namespace {
// fp32 throughout; different summation orders (one matmul over T keys versus T growing ones)
// differ by a few ulps of values of order 1 accumulated over 3 layers.
constexpr double kLogitTol = 1e-4;

at::Tensor random_tokens(int64_t B, int64_t T, int64_t vocab, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randint(vocab, {B, T}, gen, at::kLong);
}
}  // namespace

TEST_CASE("prefill logits equal token-by-token decode logits", "[forward]") {
  auto cfg = GENERATE(test::tiny_config(false, false, 2), test::tiny_config(true, true, 1),
                      test::tiny_config(false, true, 4));
  const Model m = test::random_model(cfg);
  const auto tokens = random_tokens(2, 19, cfg.vocab_size, 3);
  const auto ref = forward(m, tokens, {}, nullptr);

  FullKvCache cache(kv_shape(cfg));
  std::vector<at::Tensor> steps;
  for (int64_t t = 0; t < tokens.size(1); ++t)
    steps.push_back(forward(m, tokens.narrow(1, t, 1), {}, &cache));
  const auto dec = at::cat(steps, 1);
  CHECK((dec - ref).abs().max().item<double>() < kLogitTol);

  // chunked prefill (7 + 12) equals the plain forward too
  FullKvCache c2(kv_shape(cfg));
  const auto a = forward(m, tokens.narrow(1, 0, 7), {}, &c2);
  const auto b = forward(m, tokens.narrow(1, 7, 12), {}, &c2);
  CHECK((at::cat({a, b}, 1) - ref).abs().max().item<double>() < kLogitTol);
}

TEST_CASE("a left-padded batch equals each sequence alone", "[forward]") {
  const auto cfg = test::tiny_config(true, false, 2);
  const Model m = test::random_model(cfg);
  const auto s0 = random_tokens(1, 11, cfg.vocab_size, 5);
  const auto s1 = random_tokens(1, 6, cfg.vocab_size, 6);
  auto tokens = at::zeros({2, 11}, at::kLong);
  auto valid = at::zeros({2, 11}, at::kBool);
  tokens[0].copy_(s0[0]);
  valid[0].fill_(true);
  tokens[1].narrow(0, 5, 6).copy_(s1[0]);
  valid[1].narrow(0, 5, 6).fill_(true);

  FullKvCache cache(kv_shape(cfg));
  const auto batched = forward(m, tokens, valid, &cache);
  const auto alone0 = forward(m, s0, {}, nullptr);
  const auto alone1 = forward(m, s1, {}, nullptr);
  CHECK((batched[0] - alone0[0]).abs().max().item<double>() < kLogitTol);
  CHECK((batched[1].narrow(0, 5, 6) - alone1[0]).abs().max().item<double>() < kLogitTol);

  // and one decode step after it
  const auto next = random_tokens(2, 1, cfg.vocab_size, 9);
  const auto step = forward(m, next, at::ones({2, 1}, at::kBool), &cache);
  const auto full0 = forward(m, at::cat({s0, next.narrow(0, 0, 1)}, 1), {}, nullptr);
  const auto full1 = forward(m, at::cat({s1, next.narrow(0, 1, 1)}, 1), {}, nullptr);
  CHECK((step[0][0] - full0[0][11]).abs().max().item<double>() < kLogitTol);
  CHECK((step[1][0] - full1[0][6]).abs().max().item<double>() < kLogitTol);
}

TEST_CASE("rms_norm: x / sqrt(mean(x^2) + eps) * gain, by hand", "[forward]") {
  // x = (1, 2, 3, 4): mean of squares 30/4 = 7.5, rms = sqrt(7.5 + 1e-5) = 2.7386146;
  // gain (1, 1, 2, 0.5) -> (0.36514813, 0.73029626, 2.19088877, 0.73029626).
  const auto x = at::tensor({1.0f, 2.0f, 3.0f, 4.0f}).view({1, 1, 4});
  const auto g = at::tensor({1.0f, 1.0f, 2.0f, 0.5f});
  const auto y = rms_norm(x, g, 1e-5).flatten();
  const double want[] = {0.3651481282381064, 0.7302962564762128, 2.1908887694286383,
                         0.7302962564762128};
  for (int i = 0; i < 4; ++i) CHECK(y[i].item<double>() == Approx(want[i]).epsilon(1e-6));
  // bf16 input: computed in fp32, rounded once on the way out.
  const auto yb = rms_norm(x.to(at::kBFloat16), g.to(at::kBFloat16), 1e-5).to(at::kFloat).flatten();
  for (int i = 0; i < 4; ++i) CHECK(yb[i].item<double>() == Approx(want[i]).epsilon(1e-2));
}
