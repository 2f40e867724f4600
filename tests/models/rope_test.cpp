// Rotary embeddings against values worked out by hand (the formulas of models/rope.h evaluated
// step by step in double precision outside kvmix, numbers written below).
#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <cmath>

#include "models/rope.h"

namespace kvmix {
namespace {

ModelConfig rope_config(int64_t head_dim) {
  ModelConfig c;
  c.head_dim = head_dim;
  c.rope_theta = 10000.0;
  return c;
}

// original_max 1024, low_freq_factor 1, high_freq_factor 4, factor 8 (the cases below work it out).
ModelConfig llama3_config() {
  ModelConfig c = rope_config(8);
  c.rope_scaling.type = RopeScalingType::kLlama3;
  c.rope_scaling.factor = 8.0;
  c.rope_scaling.low_freq_factor = 1.0;
  c.rope_scaling.high_freq_factor = 4.0;
  c.rope_scaling.original_max_position_embeddings = 1024;
  return c;
}

}  // namespace

TEST_CASE("rope: inverse frequencies are theta^(-2i/D)", "[rope]") {
  const auto f = rope_inv_freq(rope_config(8));
  REQUIRE(f.size(0) == 4);
  CHECK(f[0].item<double>() == Approx(1.0).epsilon(1e-15));
  CHECK(f[1].item<double>() == Approx(0.1).epsilon(1e-15));
  CHECK(f[2].item<double>() == Approx(0.01).epsilon(1e-15));
  CHECK(f[3].item<double>() == Approx(0.001).epsilon(1e-15));
}

TEST_CASE("rope: llama3 scaling keeps, blends and divides by wavelength", "[rope]") {
  // original_max 1024, low_freq_factor 1, high_freq_factor 4, factor 8: wavelengths under
  // 1024/4 = 256 are kept, over 1024/1 = 1024 divided by 8, in between blended.
  //   f = 1     wavelength 6.28   kept        -> 1
  //   f = 0.1   wavelength 62.8   kept        -> 0.1
  //   f = 0.01  wavelength 628.3  blended: smooth = (1024/628.3185 - 1)/(4 - 1) = 0.2099157,
  //             (1 - smooth) * 0.01/8 + smooth * 0.01 = 0.00308676096701
  //   f = 0.001 wavelength 6283   divided     -> 0.000125
  const auto f = rope_inv_freq(llama3_config());
  CHECK(f[0].item<double>() == Approx(1.0).epsilon(1e-12));
  CHECK(f[1].item<double>() == Approx(0.1).epsilon(1e-12));
  CHECK(f[2].item<double>() == Approx(0.00308676096701).epsilon(1e-10));
  CHECK(f[3].item<double>() == Approx(0.000125).epsilon(1e-12));
}

TEST_CASE("rope: linear scaling divides every frequency", "[rope]") {
  ModelConfig c = rope_config(8);
  c.rope_scaling.type = RopeScalingType::kLinear;
  c.rope_scaling.factor = 4.0;
  const auto f = rope_inv_freq(c);
  CHECK(f[0].item<double>() == Approx(0.25).epsilon(1e-15));
  CHECK(f[3].item<double>() == Approx(0.00025).epsilon(1e-15));
}

TEST_CASE("rope: rotation pairs dimension i with i + D/2", "[rope]") {
  // Unit vectors at position 3 under the llama3 frequencies above: e_0 turns by 3 * 1 radian
  // into (cos 3, sin 3) on dimensions (0, 4); e_2 by 3 * 0.00308676 radian onto (2, 6);
  // e_6 (the partner of 2) into (-sin, cos) of the same angle.
  const auto f = rope_inv_freq(llama3_config());
  auto [cos, sin] = rope_tables(f, at::full({1, 1}, 3, at::kLong));
  auto x = at::zeros({1, 3, 1, 8});  // [B, H, T, D]: three heads at one position
  x[0][0][0][0] = 1.0;
  x[0][1][0][2] = 1.0;
  x[0][2][0][6] = 1.0;
  const auto y = apply_rope(x, cos, sin);
  const double c0 = -0.9899924966004454, s0 = 0.1411200080598672;  // cos 3, sin 3
  const double c2 = 0.9999571238866934, s2 = 0.009260150552342541;  // angle 0.00926028
  CHECK(y[0][0][0][0].item<double>() == Approx(c0).margin(1e-6));
  CHECK(y[0][0][0][4].item<double>() == Approx(s0).margin(1e-6));
  CHECK(y[0][1][0][2].item<double>() == Approx(c2).margin(1e-6));
  CHECK(y[0][1][0][6].item<double>() == Approx(s2).margin(1e-6));
  CHECK(y[0][2][0][2].item<double>() == Approx(-s2).margin(1e-6));
  CHECK(y[0][2][0][6].item<double>() == Approx(c2).margin(1e-6));
  // Everything else stays zero.
  CHECK(y.abs().sum().item<double>() ==
        Approx(std::abs(c0) + s0 + c2 + s2 + s2 + c2).margin(1e-5));
}

}  // namespace kvmix
