// The packed cache (kvmix's runtime: codes in uint32 words, fused decode attention) against the
// fake-quant cache (quantize-dequantize in place, plain attention): the same format and the same
// KIVI flush rules must give the same logits, and the packed cache's bytes must follow the
// layout formula worked out by hand below.
#include <catch2/catch.hpp>

#include "lib/cache/fake_quant_kv_cache.h"
#include "lib/cache/packed_kv_cache.h"
#include "models/llama_forward.h"
#include "tests/models/random_model.h"

using namespace kvmix;

namespace {

// Fused attention over codes versus dequantize-then-matmul: the same dequantized values summed in
// different orders (the fused kernel runs an online softmax over blocks of keys). Seen: at most
// 3.3e-4 on logits of order 1 after 3 layers (KV8 kivi), a few 1e-5 elsewhere; a wrong code, scale
// or flush boundary moves logits by 1e-2 or more.
constexpr double kTol = 1e-3;

at::Tensor decode_all(const Model& m, const at::Tensor& tokens, int64_t prefill, KvCache& cache) {
  std::vector<at::Tensor> out{forward(m, tokens.narrow(1, 0, prefill), {}, &cache)};
  for (int64_t t = prefill; t < tokens.size(1); ++t) out.push_back(forward(m, tokens.narrow(1, t, 1), {}, &cache));
  return at::cat(out, 1);
}

}  // namespace

TEST_CASE("packed and fake-quant caches give the same logits for the same format", "[cache]") {
  auto cfg = test::tiny_config(false, false, 2);
  cfg.hidden_size = 128;  // head_dim 32: KIVI's per-token value groups of 32 must divide it
  cfg.head_dim = 32;
  const Model m = test::random_model(cfg);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(11);
  // 75 tokens: several KIVI key flushes (group 32) and a value window that slides past them.
  const auto tokens = at::randint(cfg.vocab_size, {2, 75}, gen, at::kLong);
  const auto scheme = GENERATE(Scheme::kKivi, Scheme::kPerToken);
  const auto pair = GENERATE(KvPair{4, 2}, KvPair{2, 4}, KvPair{8, 8});
  const auto formats = uniform_layers(scheme, pair, cfg.num_layers);
  INFO(scheme_name(scheme) << " " << pair_name(pair));

  FakeQuantKvCache fake(kv_shape(cfg), formats);
  PackedKvCache packed(kv_shape(cfg), formats);
  const auto a = decode_all(m, tokens, 9, fake);
  const auto b = decode_all(m, tokens, 9, packed);
  CHECK((a - b).abs().max().item<double>() < kTol);
  CHECK(packed.true_bytes() == fake.true_bytes());

  // And quantization did something: the full-precision logits differ.
  const auto full = forward(m, tokens, {}, nullptr);
  CHECK((a - full).abs().max().item<double>() > 1e-4);
}

TEST_CASE("packed per-token cache bytes by hand", "[cache]") {
  const auto cfg = test::tiny_config(false, false, 2);  // 3 layers, 2 KV heads, head_dim 16
  const Model m = test::random_model(cfg);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
  const auto tokens = at::randint(cfg.vocab_size, {2, 20}, gen, at::kLong);
  PackedKvCache packed(kv_shape(cfg), uniform_layers(Scheme::kPerToken, KvPair{4, 2}, cfg.num_layers));
  decode_all(m, tokens, 20, packed);
  // Per token, head and layer: K 16 x 4 bits = 2 words = 8 bytes, V 16 x 2 bits = 1 word = 4 bytes;
  // each side one group (G = head_dim) with an fp16 scale and an fp16 zero = 4 bytes. No residual.
  const int64_t per_token_head_layer = (8 + 4) + (4 + 4);
  CHECK(packed.true_bytes() == 2 * 20 * 2 * 3 * per_token_head_layer);
}
