// The KV byte figures of `kvmix bench model` are KvCache::true_bytes after a prefill and after
// single-token decode steps, for the full-precision cache and the packed KIVI K4V4 and K2V2 caches.
// The bench's own code (apps/bench) is built into the kvmix executable only, and the tests link
// kvmix_core, so this test runs the bench's procedure through the library: on a small random model,
// each cache's true bytes must equal the per-layer formula (kernels' true_bytes over every sequence)
// and a count worked out by hand, and the packed cache's buffers must hold exactly that much.
#include <catch2/catch.hpp>

#include <memory>

#include "kernels/ops.h"  // true_bytes
#include "lib/cache/make_kv_cache.h"
#include "lib/cache/packed_kv_cache.h"
#include "models/llama_forward.h"
#include "tests/models/random_model.h"

using namespace kvmix;

namespace {

// What a serving engine holding `batch` sequences of `tokens` tokens stores, layer by layer.
int64_t formula_bytes(const KvShape& s, const std::vector<LayerKvFormat>& formats, int64_t batch,
                      int64_t tokens) {
  int64_t total = 0;
  for (const LayerKvFormat& f : formats)
    total += true_bytes(s.kv_heads, tokens, s.head_dim, f.k, s.model_dtype_bytes) +
             true_bytes(s.kv_heads, tokens, s.head_dim, f.v, s.model_dtype_bytes);
  return batch * total;
}

struct Case {
  CacheKind kind;
  KvPair pair;
  // Bytes per sequence, layer and KV head, by hand (D = 32, fp16 elements, KIVI G = R = 32;
  // a 4-bit group of 32 codes = 4 words = 16 B, a 2-bit one 8 B; fp16 scale + zero = 4 B):
  int64_t after_prefill;  // 64 tokens
  int64_t after_decode;   // 75 tokens
};

}  // namespace

TEST_CASE("bench model's byte figures: true bytes after prefill and decode follow the formula",
          "[cache][bytes]") {
  auto cfg = test::tiny_config(false, false, 2);  // 3 layers, 2 KV heads
  cfg.hidden_size = 128;                          // head_dim 32: KIVI's value groups of 32 divide it
  cfg.head_dim = 32;
  const Model m = test::random_model(cfg);
  const KvShape shape = kv_shape(cfg);
  const int64_t B = 2, prefill = 64, decode = 11;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  const auto prompt = at::randint(cfg.vocab_size, {B, prefill}, gen, at::kLong);
  const auto decode_ids = at::randint(cfg.vocab_size, {B, decode}, gen, at::kLong);

  const Case c = GENERATE(
      // full: T x 32 x 2 B for K and for V
      Case{CacheKind::kFull, KvPair{16, 16}, 2 * 64 * 32 * 2, 2 * 75 * 32 * 2},
      // 64 tokens: K all packed (64 mod 32 = 0): 2 groups x 32 channels x (16 + 4) = 1280;
      //   V: newest 32 in fp16 = 2048, 32 packed tokens x (16 + 4) = 640.
      // 75 tokens: K residual 75 mod 32 = 11 x 32 x 2 = 704, packed as before 1280;
      //   V: 2048 + 43 x (16 + 4) = 860.
      Case{CacheKind::kPacked, KvPair{4, 4}, 1280 + 2048 + 640, 704 + 1280 + 2048 + 860},
      // the same with 8 B of codes per group: K 2 x 32 x (8 + 4) = 768; V packed 32 or 43 x 12
      Case{CacheKind::kPacked, KvPair{2, 2}, 768 + 2048 + 384, 704 + 768 + 2048 + 516});
  INFO(cache_kind_name(c.kind) << " " << pair_name(c.pair));
  const auto formats = uniform_layers(Scheme::kKivi, c.pair, cfg.num_layers);
  const std::unique_ptr<KvCache> cache = make_kv_cache(c.kind, shape, formats);
  const int64_t head_layer_sequences = B * cfg.num_layers * cfg.num_kv_heads;
  ForwardOptions fo;
  fo.last_logits_only = true;

  (void)forward(m, prompt, at::Tensor(), cache.get(), fo);
  CHECK(cache->true_bytes() == formula_bytes(shape, formats, B, prefill));
  CHECK(cache->true_bytes() == head_layer_sequences * c.after_prefill);

  for (int64_t t = 0; t < decode; ++t)
    (void)forward(m, decode_ids.narrow(1, t, 1), at::Tensor(), cache.get(), fo);
  CHECK(cache->true_bytes() == formula_bytes(shape, formats, B, prefill + decode));
  CHECK(cache->true_bytes() == head_layer_sequences * c.after_decode);

  // Sequences of equal length leave no padding slots, so what the packed buffers hold (codes,
  // scales, zeros, residual) is the formula's count, not an estimate of it.
  if (const auto* packed = dynamic_cast<const PackedKvCache*>(cache.get()))
    CHECK(packed->buffer_bytes() == cache->true_bytes());
}
