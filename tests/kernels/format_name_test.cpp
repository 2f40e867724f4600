#include <catch2/catch.hpp>

#include "kernels/quant_format.h"

using namespace kvmix;

TEST_CASE("format names are stable and readable", "[format]") {
  CHECK(format_name(uniform_format(4, QuantAxis::kPerChannel, 32, 32)) == "u4-asym-ch-g32-f16-r32");
  CHECK(format_name(uniform_format(2, QuantAxis::kPerToken, 0)) == "u2-asym-tok-gD-f16");
  CHECK(format_name(ternary_format(QuantAxis::kPerToken, 32)) == "t1.58-tok-g32-f16");
  CHECK(format_name(fp8_format(Fp8Scope::kPerTensor)) == "fp8e4m3-tensor");
}

TEST_CASE("residual window follows KIVI's rules", "[format]") {
  // keys (per-channel, G = 32, R = 32): flushed 32 at a time, so T mod 32 stay in the residual
  const auto k = uniform_format(2, QuantAxis::kPerChannel, 32, 32);
  CHECK(residual_tokens(k, 100) == 4);
  CHECK(residual_tokens(k, 96) == 0);
  // R = 128 > G: flushed 128 at a time
  CHECK(residual_tokens(uniform_format(2, QuantAxis::kPerChannel, 32, 128), 300) == 44);
  // values (per-token, R = 32): sliding window of the newest 32
  const auto v = uniform_format(2, QuantAxis::kPerToken, 32, 32);
  CHECK(residual_tokens(v, 100) == 32);
  CHECK(residual_tokens(v, 7) == 7);
  CHECK(residual_tokens(full_precision(), 7) == 7);
}
