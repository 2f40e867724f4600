// Round-trip error bounds per format family (ggml's test-quantize-fns), the packed layout checked
// against words built independently in the test, constant and zero groups, huge dynamic ranges.
#include <catch2/catch.hpp>

#include <cfloat>

#include "kernels/format_registry.h"
#include "kernels/quant_math.h"
#include "tests/kernels/kernel_test_util.h"

using namespace kvmix;
using namespace kvmix::test;

namespace {

// fp32 slack of the uniform round trip, per unit of |x| + |z| + L*s: (x - z) and its product with
// 1/s are each rounded once (2 eps relative on (x - z)/s, which can move q by one step only within
// 2 eps * L of a tie), and q*s + z twice more: 4 eps covers all four roundings.
constexpr double kUniformSlack = 4 * FLT_EPSILON;
// e4m3 keeps 3 mantissa bits: round-to-nearest is within 2^-4 relative for normal values and
// within half the subnormal step 2^-9, i.e. 2^-10 in units of the scale, below 2^-6.
constexpr double kE4M3Relative = 1.0 / 16;
constexpr double kE4M3Subnormal = 1.0 / 1024;
// The nearest-point rule of ternary / 1-bit codes, evaluated in fp32: 2 eps of |x| + s.
constexpr double kNearestSlack = 2 * FLT_EPSILON;

// Per-element copies of a per-group parameter tensor, shaped like x [N, T, D].
at::Tensor expand_params(const at::Tensor& params, const QuantFormat& f, const at::Tensor& x) {
  const int64_t T = x.size(-2), D = x.size(-1);
  const at::Tensor p = params.to(at::kDouble).reshape({-1, params.size(-2), params.size(-1)});
  const int64_t G = resolved_group(f, D);
  if (f.axis == QuantAxis::kPerChannel)
    return p.repeat_interleave(G, 1).slice(1, 0, T);  // [N, rows*G, D] -> [N, T, D]
  return p.repeat_interleave(G, 2);                   // [N, T, D/G] -> [N, T, D]
}

std::vector<QuantFormat> bounded_formats() {
  std::vector<QuantFormat> v;
  for (const FormatEntry& e : format_registry()) v.push_back(e.format);
  for (QuantFormat f : std::vector<QuantFormat>(v)) {
    f.scale_dtype = ScaleDtype::kF32;
    if (f.kind != QuantKind::kFp8E4M3) v.push_back(f);
  }
  return v;
}

// Checks the family's error bound on every element of x (fp32, [N, T, D]).
void check_error_bound(const at::Tensor& x, const QuantFormat& f) {
  const PackedTensor p = quantize_pack(x, f);
  const at::Tensor xh = unpack_dequantize(p, f, at::kFloat).to(at::kDouble).reshape({-1, x.size(-2), x.size(-1)});
  const at::Tensor xd = x.to(at::kDouble).reshape({-1, x.size(-2), x.size(-1)});
  REQUIRE(at::isfinite(xh).all().item<bool>());
  const at::Tensor err = (xd - xh).abs();
  at::Tensor bound;
  if (f.kind == QuantKind::kFp8E4M3) {
    const at::Tensor s = f.fp8_scope == Fp8Scope::kPerHead
                             ? p.scales.to(at::kDouble).reshape({-1, 1, 1})
                             : p.scales.to(at::kDouble).reshape({1, 1, 1});
    bound = kE4M3Relative * xd.abs() + kE4M3Subnormal * s + kUniformSlack * xd.abs();
  } else {
    const at::Tensor s = expand_params(p.scales, f, xd);
    const QuantFamily fam = quant_family(f);
    if (fam == QuantFamily::kAsym || fam == QuantFamily::kSym) {
      const double levels = fam == QuantFamily::kAsym ? (1 << f.bits) - 1 : (1 << (f.bits - 1)) - 1;
      const at::Tensor z = fam == QuantFamily::kAsym ? expand_params(p.zeros, f, xd) : at::zeros_like(s);
      bound = 0.5 * s + kUniformSlack * (xd.abs() + z.abs() + levels * s);
    } else {  // x^ is the nearest point of {-s, s} (1-bit) or {-s, 0, s} (ternary)
      at::Tensor nearest = at::minimum((xd - s).abs(), (xd + s).abs());
      if (fam == QuantFamily::kTernary) nearest = at::minimum(nearest, xd.abs());
      bound = nearest + kNearestSlack * (xd.abs() + s);
    }
  }
  const at::Tensor excess = err - bound;
  const int64_t worst = excess.argmax().item<int64_t>();
  INFO("worst element " << worst << ": x = " << xd.flatten()[worst].item<double>()
                        << ", x^ = " << xh.flatten()[worst].item<double>()
                        << ", bound = " << bound.flatten()[worst].item<double>());
  REQUIRE(excess.max().item<double>() <= 0.0);
}

}  // namespace

TEST_CASE("round-trip error stays within each family's bound", "[kernels][error]") {
  const std::vector<QuantFormat> formats = bounded_formats();
  const size_t index = GENERATE_COPY(range<size_t>(0, formats.size()));
  const QuantFormat f = formats[index];
  CAPTURE(format_name(f));
  SECTION("normal values with outlier channels") {
    check_error_bound(random_input({3, 100, 128}, 5 + index, at::kFloat), f);
  }
  SECTION("constant and all-zero groups") {
    at::Tensor x = at::full({2, 64, 128}, 0.3f);
    x[1].zero_();
    check_error_bound(x, f);
    if (f.kind != QuantKind::kFp8E4M3 && quant_family(f) == QuantFamily::kAsym) {
      // a constant group is reproduced exactly when its value is on the zero-point's grid
      const at::Tensor y = at::full({1, 64, 128}, 0.75f);
      CHECK(at::equal(fake_quant(y, f), y));
    }
    CHECK(at::equal(fake_quant(x[1].unsqueeze(0).contiguous(), f), x[1].unsqueeze(0)));
  }
}

TEST_CASE("huge dynamic ranges: fp32 scales hold them, fp16 scales refuse them", "[kernels][error]") {
  // Magnitudes 2^-40 .. 2^40 with random signs: fp32 scales keep the bound; an fp16 scale cannot
  // hold 2^40 and the op says so instead of returning inf.
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(11);
  const at::Tensor expo = at::randint(-40, 41, {2, 64, 128}, gen).to(at::kFloat);
  const at::Tensor sign = at::randint(0, 2, {2, 64, 128}, gen).to(at::kFloat) * 2 - 1;
  const at::Tensor x = (sign * at::pow(2.0, expo)).contiguous();
  for (const QuantAxis axis : {QuantAxis::kPerChannel, QuantAxis::kPerToken}) {
    for (int bits : {2, 4, 8}) {
      for (bool sym : {false, true}) {
        const QuantFormat f32 = uniform_format(bits, axis, 32, 0, sym, ScaleDtype::kF32);
        CAPTURE(format_name(f32));
        check_error_bound(x, f32);
        const QuantFormat f16 = uniform_format(bits, axis, 32, 0, sym, ScaleDtype::kF16);
        REQUIRE_THROWS_WITH(quantize_pack(x, f16), Catch::Contains("overflows"));
      }
    }
  }
  check_error_bound(x, fp8_format(Fp8Scope::kPerHead));
}

TEST_CASE("pack/unpack: grid values come back exactly, in the documented word layout",
          "[kernels][layout]") {
  // Every group holds the integers 0 .. L (both ends present), so z = 0, s = 1 exactly and the
  // codes are the values themselves: the test builds the expected words from the layout rules of
  // kernels/quant_format.h (code i at bits [i*b, (i+1)*b) of its group, groups on fresh words).
  const int bits = GENERATE(1, 2, 3, 4, 8);
  const QuantAxis axis = GENERATE(QuantAxis::kPerChannel, QuantAxis::kPerToken);
  const int group = GENERATE(32, 33);
  const QuantFormat f = uniform_format(bits, axis, group, 0, false, ScaleDtype::kF32);
  CAPTURE(format_name(f));
  const int64_t N = 2, T = 3 * group + (axis == QuantAxis::kPerChannel ? 5 : 0), D = 2 * group;
  const uint32_t L = (1u << bits) - 1;
  std::mt19937 rng(bits * 100 + group);
  at::Tensor x = at::empty({N, T, D});
  auto xa = x.accessor<float, 3>();
  const PackedLayout l = packed_layout(f, N, T, D);
  std::vector<uint32_t> want(static_cast<size_t>(l.code_words()), 0);
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t r = 0; r < l.rows; ++r) {
      for (int64_t c = 0; c < l.cols; ++c) {
        const int64_t count = axis == QuantAxis::kPerChannel ? std::min<int64_t>(group, T - r * group) : group;
        for (int64_t i = 0; i < count; ++i) {
          const uint32_t q = i == 0 ? 0 : i == 1 ? L : static_cast<uint32_t>(rng() % (L + 1));
          const int64_t t = axis == QuantAxis::kPerChannel ? r * group + i : r;
          const int64_t d = axis == QuantAxis::kPerChannel ? c : c * group + i;
          xa[n][t][d] = static_cast<float>(q);
          uint32_t* words = want.data() + ((n * l.rows + r) * l.cols + c) * l.words;
          for (int b = 0; b < bits; ++b) {
            const int64_t bit = i * bits + b;
            words[bit / 32] |= ((q >> b) & 1u) << (bit % 32);
          }
        }
      }
    }
  }
  const PackedTensor p = quantize_pack(x, f);
  const at::Tensor got = p.codes.flatten();
  REQUIRE(static_cast<size_t>(got.numel()) == want.size());
  REQUIRE(std::memcmp(got.data_ptr(), want.data(), want.size() * 4) == 0);
  REQUIRE(at::equal(unpack_dequantize(p, f, at::kFloat), x));
}

TEST_CASE("pack/unpack: ternary trits and fp8 bytes in the documented layout", "[kernels][layout]") {
  SECTION("ternary: 20 trits per word, t + 1 in base 3, along the group") {
    const QuantFormat f = ternary_format(QuantAxis::kPerToken, 32, 0, ScaleDtype::kF32);
    // one token, one group: values in {-1, 0, 1}, 24 nonzero so s = 24/32 = 0.75 and the
    // threshold 0.375 keeps the signs
    at::Tensor x = at::zeros({1, 1, 32});
    std::vector<uint32_t> want(2, 0);
    uint32_t pow3 = 1;
    for (int i = 0; i < 32; ++i) {
      const int t = i % 4 == 0 ? 0 : (i % 3 == 0 ? -1 : 1);
      x[0][0][i] = static_cast<float>(t);
      if (i % 20 == 0) pow3 = 1;
      want[i / 20] += static_cast<uint32_t>(t + 1) * pow3;
      pow3 *= 3;
    }
    const PackedTensor p = quantize_pack(x, f);
    REQUIRE(p.scales.item<float>() == 0.75f);
    REQUIRE(std::memcmp(p.codes.data_ptr(), want.data(), 8) == 0);
    REQUIRE(at::equal(unpack_dequantize(p, f, at::kFloat), x * 0.75f));
  }
  SECTION("fp8: values on the e4m3 grid with max 448 give scale 1 and exact codes") {
    const QuantFormat f = fp8_format(Fp8Scope::kPerTensor);
    at::Tensor x = at::empty({1, 3, 8});
    std::vector<uint32_t> want(6, 0);
    for (int i = 0; i < 24; ++i) {
      const uint8_t c = i == 0 ? 0x7E : static_cast<uint8_t>((i * 37) % 0x7E) | (i % 2 ? 0x80 : 0);
      x.view(-1)[i] = qmath::e4m3_to_f32(c);
      want[i / 4] |= static_cast<uint32_t>(c) << (8 * (i % 4));
    }
    const PackedTensor p = quantize_pack(x, f);
    REQUIRE(p.scales.item<float>() == 1.0f);
    REQUIRE(std::memcmp(p.codes.data_ptr(), want.data(), 24) == 0);
    REQUIRE(at::equal(unpack_dequantize(p, f, at::kFloat), x));
  }
}
