// Bad arguments raise kvmix::Error with a message that names the problem, never a crash.
#include <catch2/catch.hpp>

#include <cmath>

#include "base/error.h"
#include "tests/kernels/kernel_test_util.h"

using namespace kvmix;
using namespace kvmix::test;
using Catch::Contains;

namespace {
const QuantFormat kKeys = uniform_format(4, QuantAxis::kPerChannel, 32);
const QuantFormat kValues = uniform_format(4, QuantAxis::kPerToken, 32);
}  // namespace

TEST_CASE("quantize_pack and fake_quant refuse bad inputs and formats", "[kernels][errors]") {
  const at::Tensor x = random_input({2, 64, 128}, 3, at::kFloat);
  SECTION("dtype") {
    REQUIRE_THROWS_WITH(quantize_pack(x.to(at::kInt), kKeys), Contains("dtype"));
    REQUIRE_THROWS_WITH(fake_quant(x.to(at::kDouble), kValues), Contains("float32, bfloat16 or float16"));
  }
  SECTION("layout") {
    REQUIRE_THROWS_WITH(quantize_pack(x.transpose(1, 2), kValues), Contains("contiguous"));
    REQUIRE_THROWS_WITH(quantize_pack(at::zeros({128}), kValues), Contains("[..., tokens, channels]"));
  }
  SECTION("formats") {
    REQUIRE_THROWS_WITH(quantize_pack(x, uniform_format(5, QuantAxis::kPerToken, 32)),
                        Contains("unsupported bits 5"));
    REQUIRE_THROWS_WITH(quantize_pack(x, uniform_format(16, QuantAxis::kPerToken, 32)),
                        Contains("unsupported bits"));
    REQUIRE_THROWS_WITH(quantize_pack(x, uniform_format(0, QuantAxis::kPerToken, 32)),
                        Contains("unsupported bits"));
    REQUIRE_THROWS_WITH(quantize_pack(x, uniform_format(4, QuantAxis::kPerToken, 48)),
                        Contains("does not divide"));
    REQUIRE_THROWS_WITH(quantize_pack(x, uniform_format(4, QuantAxis::kPerChannel, 0)),
                        Contains("per-channel group"));
    REQUIRE_THROWS_WITH(quantize_pack(x, full_precision()), Contains("nothing to quantize"));
    REQUIRE_THROWS_WITH(quantize_pack(x, uniform_format(4, QuantAxis::kPerToken, -2)),
                        Contains("outside"));
  }
  SECTION("non-finite input is refused by every format") {
    for (const QuantFormat& f : {kKeys, kValues, ternary_format(QuantAxis::kPerToken, 32),
                                 uniform_format(1, QuantAxis::kPerChannel, 32, 0, true),
                                 fp8_format(Fp8Scope::kPerTensor)}) {
      CAPTURE(format_name(f));
      for (float bad : {NAN, INFINITY, -INFINITY}) {
        at::Tensor y = x.clone();
        y[1][17][5] = bad;
        REQUIRE_THROWS_WITH(quantize_pack(y, f), Contains("NaN or inf"));
        REQUIRE_THROWS_WITH(fake_quant(y.to(at::kBFloat16), f), Contains("NaN or inf"));
      }
    }
  }
  SECTION("a range beyond fp16 scales") {
    REQUIRE_THROWS_WITH(quantize_pack(x * 1e6, kKeys), Contains("overflows the fp16"));
    REQUIRE_NOTHROW(quantize_pack(x * 1e6, uniform_format(4, QuantAxis::kPerChannel, 32, 0, false,
                                                          ScaleDtype::kF32)));
  }
  SECTION("errors are kvmix::Error") {
    REQUIRE_THROWS_AS(quantize_pack(x.to(at::kInt), kKeys), Error);
  }
}

TEST_CASE("unpack_dequantize refuses packed tensors that do not match the format",
          "[kernels][errors]") {
  const at::Tensor x = random_input({2, 64, 128}, 4, at::kFloat);
  const PackedTensor p = quantize_pack(x, kKeys);
  PackedTensor q = p;
  q.tokens = 65;  // 65 tokens need 3 token groups, the codes hold 2
  REQUIRE_THROWS_WITH(unpack_dequantize(q, kKeys, at::kFloat), Contains("shape"));
  q = p;
  q.scales = p.scales.to(at::kFloat);
  REQUIRE_THROWS_WITH(unpack_dequantize(q, kKeys, at::kFloat), Contains("scales have dtype"));
  q = p;
  q.zeros = at::Tensor();
  REQUIRE_THROWS_WITH(unpack_dequantize(q, kKeys, at::kFloat), Contains("zeros are missing"));
  q = p;
  q.scales = p.scales.clone();
  q.scales[0][0][0] = NAN;
  REQUIRE_THROWS_WITH(unpack_dequantize(q, kKeys, at::kFloat), Contains("NaN or inf"));
  REQUIRE_THROWS_WITH(unpack_dequantize(p, kKeys, at::kInt), Contains("float32, bfloat16 or float16"));
  REQUIRE_THROWS_WITH(unpack_dequantize(p, uniform_format(2, QuantAxis::kPerChannel, 32), at::kFloat),
                      Contains("shape"));
}

TEST_CASE("decode_attention refuses unsupported formats and mismatched operands",
          "[kernels][errors]") {
  const int64_t B = 1, Hq = 4, Hkv = 2, T = 64, D = 64;
  const at::Tensor k = random_input({B, Hkv, T, D}, 5, at::kFloat);
  const at::Tensor v = random_input({B, Hkv, T, D}, 6, at::kFloat);
  const at::Tensor q = random_input({B, Hq, D}, 7, at::kFloat);
  const at::Tensor none = at::zeros({B, Hkv, 0, D});
  const PackedTensor kp = quantize_pack(k, kKeys), vp = quantize_pack(v, kValues);
  REQUIRE_NOTHROW(decode_attention(q, kp, kKeys, none, vp, kValues, none, at::Tensor()));

  const QuantFormat tern = ternary_format(QuantAxis::kPerToken, 32);
  REQUIRE_THROWS_WITH(decode_attention(q, kp, kKeys, none, quantize_pack(v, tern), tern, none, {}),
                      Contains("not supported by the fused kernel"));
  const QuantFormat fp8 = fp8_format(Fp8Scope::kPerHead);
  REQUIRE_THROWS_WITH(decode_attention(q, quantize_pack(k, fp8), fp8, none, vp, kValues, none, {}),
                      Contains("not supported by the fused kernel"));
  REQUIRE_THROWS_WITH(decode_attention(q, vp, kValues, none, vp, kValues, none, {}),
                      Contains("per-channel uniform keys"));
  REQUIRE_THROWS_WITH(decode_attention(random_input({B, 3, D}, 8, at::kFloat), kp, kKeys, none, vp,
                                       kValues, none, {}),
                      Contains("not a multiple"));
  REQUIRE_THROWS_WITH(decode_attention(q, kp, kKeys, at::zeros({B, Hkv, 3, D}), vp, kValues, none, {}),
                      Contains("tokens"));
  REQUIRE_THROWS_WITH(decode_attention(q, kp, kKeys, none, vp, kValues, none, at::ones({B, T})),
                      Contains("valid must be bool"));
  REQUIRE_THROWS_WITH(decode_attention(q, kp, kKeys, none, vp, kValues, none,
                                       at::ones({B, T + 1}, at::kBool)),
                      Contains("valid"));
  at::Tensor qn = q.clone();
  qn[0][1][2] = NAN;
  REQUIRE_THROWS_WITH(decode_attention(qn, kp, kKeys, none, vp, kValues, none, {}),
                      Contains("NaN or inf"));
  REQUIRE_THROWS_WITH(decode_attention(q.to(at::kInt), kp, kKeys, none, vp, kValues, none, {}),
                      Contains("dtype"));
}
