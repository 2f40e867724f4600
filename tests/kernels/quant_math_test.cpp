// The scalar conversions of kernels/quant_math.h against independent implementations: c10::Half
// and c10::BFloat16 (exhaustively over every fp16 pattern, and over fp32 patterns sampled across
// the whole exponent range), and e4m3 against facts of the OCP FP8 spec.
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>

#include "kernels/quant_math.h"

using namespace kvmix;
using namespace kvmix::qmath;

namespace {

constexpr int kSampledFloats = 200000;  // random fp32 bit patterns per conversion test

uint16_t half_bits(c10::Half h) {
  uint16_t b;
  std::memcpy(&b, &h, 2);
  return b;
}

// fp16 bit patterns mapped to integers that increase with the value (-0 and +0 both map to 0).
int ordered_f16(uint16_t h) { return (h & 0x8000) ? -static_cast<int>(h & 0x7FFF) : h; }

// Random fp32 bit patterns: every exponent, sign and mantissa is equally likely.
std::vector<float> sampled_floats(uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<float> v;
  for (int i = 0; i < kSampledFloats; ++i) v.push_back(bits_float(static_cast<uint32_t>(rng())));
  for (float f : {0.0f, -0.0f, 65504.0f, 65519.99f, 65520.0f, 5.96e-8f, 2.98e-8f, 1e-45f,
                  INFINITY, -INFINITY, 6.1035156e-05f})
    v.push_back(f);
  return v;
}

}  // namespace

TEST_CASE("fp16 conversions match c10::Half bit for bit", "[kernels][math]") {
  for (uint32_t h = 0; h < 65536; ++h) {
    c10::Half ch;
    const uint16_t hb = static_cast<uint16_t>(h);
    std::memcpy(&ch, &hb, 2);
    const float want = static_cast<float>(ch), got = f16_to_f32(hb);
    INFO("fp16 bits " << h);
    if (std::isnan(want)) {
      REQUIRE(std::isnan(got));
    } else {
      REQUIRE(float_bits(got) == float_bits(want));
      if (std::isfinite(want)) REQUIRE(f16_bits_of_grid_value(want) == hb);
    }
  }
  for (float f : sampled_floats(1)) {
    INFO("fp32 bits " << float_bits(f));
    REQUIRE(f32_to_f16(f) == half_bits(c10::Half(f)));
  }
}

TEST_CASE("bf16 conversions match c10::BFloat16 bit for bit", "[kernels][math]") {
  for (float f : sampled_floats(2)) {
    INFO("fp32 bits " << float_bits(f));
    const c10::BFloat16 b(f);
    REQUIRE(f32_to_bf16(f) == b.x);
    if (!std::isnan(f)) REQUIRE(float_bits(bf16_to_f32(b.x)) == float_bits(static_cast<float>(b)));
  }
}

TEST_CASE("fp16 directed rounding brackets the value with adjacent fp16 numbers", "[kernels][math]") {
  for (float f : sampled_floats(3)) {
    if (!std::isfinite(f)) continue;
    const float up = f16_round_up(f), down = f16_round_down(f);
    INFO("x = " << f << ", up = " << up << ", down = " << down);
    REQUIRE(up >= f);
    REQUIRE(down <= f);
    if (std::fabs(f) <= kF16Max) {
      // both on the fp16 grid and adjacent on it (equal when x is an fp16 number)
      REQUIRE(f16_round_nearest(up) == up);
      REQUIRE(f16_round_nearest(down) == down);
      const int step = ordered_f16(f32_to_f16(up)) - ordered_f16(f32_to_f16(down));
      REQUIRE(step == (up == down ? 0 : 1));
    }
  }
  CHECK(std::isinf(f16_round_up(70000.0f)));
  CHECK(f16_round_down(70000.0f) == kF16Max);
  CHECK(f16_round_up(1e-30f) == 5.9604644775390625e-8f);
  CHECK(f16_round_down(1e-30f) == 0.0f);
}

TEST_CASE("e4m3 follows the OCP FP8 spec", "[kernels][math]") {
  // Decoding: facts from the spec's E4M3 table.
  CHECK(e4m3_to_f32(0x00) == 0.0f);
  CHECK(e4m3_to_f32(0x38) == 1.0f);                   // 0.0111.000: 2^(7-7)
  CHECK(e4m3_to_f32(0x7E) == 448.0f);                 // max normal
  CHECK(e4m3_to_f32(0xFE) == -448.0f);
  CHECK(e4m3_to_f32(0x08) == std::ldexp(1.0f, -6));   // min normal
  CHECK(e4m3_to_f32(0x01) == std::ldexp(1.0f, -9));   // min subnormal
  CHECK(e4m3_to_f32(0x07) == 7 * std::ldexp(1.0f, -9));
  CHECK(std::isnan(e4m3_to_f32(0x7F)));
  CHECK(std::isnan(e4m3_to_f32(0xFF)));
  // Every non-NaN code round-trips, and values are strictly increasing in the code.
  float prev = -1.0f;
  for (int c = 0; c < 0x7F; ++c) {
    const float v = e4m3_to_f32(static_cast<uint8_t>(c));
    INFO("code " << c);
    REQUIRE(f32_to_e4m3(v) == c);
    REQUIRE(f32_to_e4m3(-v) == (c | 0x80));
    REQUIRE(v > prev);
    // midpoints round to the even code
    if (c + 1 < 0x7F) {
      const float next = e4m3_to_f32(static_cast<uint8_t>(c + 1));
      const float mid = 0.5f * (v + next);
      REQUIRE(f32_to_e4m3(mid) == ((c & 1) == 0 ? c : c + 1));
      REQUIRE(f32_to_e4m3(std::nextafter(mid, 0.0f)) == c);
      REQUIRE(f32_to_e4m3(std::nextafter(mid, 1e9f)) == c + 1);
    }
    prev = v;
  }
  // Saturation (satfinite): beyond 448, including inf, stays at +-448.
  CHECK(f32_to_e4m3(464.0f) == 0x7E);
  CHECK(f32_to_e4m3(1e9f) == 0x7E);
  CHECK(f32_to_e4m3(-INFINITY) == 0xFE);
  CHECK(f32_to_e4m3(std::ldexp(1.0f, -11)) == 0x00);  // below half the least subnormal
}

TEST_CASE("asymmetric parameters keep the grid over the group's range", "[kernels][math]") {
  // A constant group: scale 0 (no NaN), the value reproduced exactly when it is an fp16 number.
  GroupStats st = stats_init();
  for (int i = 0; i < 32; ++i) stats_add(st, 0.75f);
  GroupParams p = Asym::params(st, 32, 4, ScaleDtype::kF16);
  CHECK(p.scale == 0.0f);
  CHECK(p.inv == 0.0f);
  CHECK(Asym::value(Asym::code(0.75f, p, Asym::levels(4)), p) == 0.75f);
  // A value fp16 cannot hold: the zero rounds down and the scale up, so both ends stay covered.
  st = stats_init();
  stats_add(st, 0.1f);
  stats_add(st, 1000.3f);
  p = Asym::params(st, 2, 2, ScaleDtype::kF16);
  CHECK(p.zero <= 0.1f);
  CHECK(p.zero + 3.0f * p.scale >= 1000.3f);
  // A NaN or inf poisons the scale.
  st = stats_init();
  stats_add(st, 1.0f);
  stats_add(st, NAN);
  CHECK(std::isnan(Asym::params(st, 2, 4, ScaleDtype::kF32).scale));
  st = stats_init();
  stats_add(st, INFINITY);
  CHECK(!is_finite(Sym::params(st, 1, 4, ScaleDtype::kF32).scale));
}
