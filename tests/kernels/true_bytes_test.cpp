// true_bytes on small cases worked out by hand (the arithmetic is in each comment).
#include <catch2/catch.hpp>

#include "kernels/ops.h"
#include "base/error.h"

using namespace kvmix;

TEST_CASE("true bytes: codes + scales + zeros + residual, by hand", "[kernels][bytes]") {
  const auto ch = QuantAxis::kPerChannel, tok = QuantAxis::kPerToken;
  // KIVI keys u2, G = 32, R = 32, fp16 scales, T = 100, D = 128, bf16 model:
  //   residual 100 mod 32 = 4 tokens -> 4*128*2 = 1024 B; packed 96 tokens = 3 groups per channel;
  //   codes 3*128 groups * ceil(32*2/32) = 2 words * 4 B = 3072 B; scale + zero 3*128*(2+2) = 1536 B
  CHECK(true_bytes(1, 100, 128, uniform_format(2, ch, 32, 32), 2) == 1024 + 3072 + 1536);
  // KIVI values u2, G = 32, R = 32: residual = the newest 32 tokens -> 32*128*2 = 8192 B;
  //   68 packed tokens * 4 groups: codes 272 * 2 words * 4 B = 2176 B; params 272 * 4 B = 1088 B
  CHECK(true_bytes(1, 100, 128, uniform_format(2, tok, 32, 32), 2) == 8192 + 2176 + 1088);
  // KVTuner per-token u4, G = D = 64, R = 0, 8 heads x 10 tokens: 80 groups of
  //   ceil(64*4/32) = 8 words = 32 B -> 2560 B; params 80 * 4 B = 320 B
  CHECK(true_bytes(8, 10, 64, uniform_format(4, tok, 0), 2) == 2560 + 320);
  // symmetric u3 per-channel G = 33, fp32 scales, T = 66, D = 4: 2 token groups x 4 channels;
  //   ceil(33*3/32) = 4 words = 16 B each -> 128 B; one fp32 scale each, no zeros -> 32 B
  CHECK(true_bytes(1, 66, 4, uniform_format(3, ch, 33, 0, true, ScaleDtype::kF32), 2) == 128 + 32);
  // ternary per-token G = 32, 2 heads x 5 tokens x D = 64: 20 groups of ceil(32/20) = 2 words
  //   = 8 B -> 160 B; one fp16 scale each -> 40 B
  CHECK(true_bytes(2, 5, 64, ternary_format(tok, 32), 2) == 160 + 40);
  // fp8 per head, 8 heads x 10 tokens x 128: one byte per element = 10240 B; 8 fp32 scales = 32 B
  CHECK(true_bytes(8, 10, 128, fp8_format(Fp8Scope::kPerHead), 2) == 10240 + 32);
  CHECK(true_bytes(8, 10, 128, fp8_format(Fp8Scope::kPerTensor), 2) == 10240 + 4);
  // the model dtype: 8*10*128 elements * 2 B
  CHECK(true_bytes(8, 10, 128, full_precision(), 2) == 20480);
  // R = 128 > T = 100 for per-channel keys: everything stays in the residual, 100*128*4 B (fp32)
  CHECK(true_bytes(1, 100, 128, uniform_format(4, ch, 32, 128), 4) == 51200);
  // nothing at all
  CHECK(true_bytes(1, 0, 128, uniform_format(4, ch, 32, 32), 2) == 0);
}

TEST_CASE("true bytes refuses formats that cannot store the tensor", "[kernels][bytes]") {
  CHECK_THROWS_AS(true_bytes(1, 10, 128, uniform_format(4, QuantAxis::kPerToken, 48), 2), Error);
  CHECK_THROWS_AS(true_bytes(1, 10, 128, uniform_format(5, QuantAxis::kPerToken, 32), 2), Error);
  CHECK_THROWS_AS(true_bytes(-1, 10, 128, uniform_format(4, QuantAxis::kPerToken, 32), 2), Error);
}
