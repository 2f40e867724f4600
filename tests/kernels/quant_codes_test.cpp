// Codes, scales, zeros and dequantized values of the CPU and CUDA kernels (through the torch ops)
// are bit-exact with the scalar reference, for every registry format and for odd groups, over
// awkward shapes and every input dtype; the fused fake-quant equals unpack(quantize(x)).
#include <catch2/catch.hpp>

#include "kernels/format_registry.h"
#include "tests/kernels/kernel_test_util.h"

using namespace kvmix;
using namespace kvmix::test;

namespace {

// REQUIREs every bit-exactness property of x under f on one backend.
void check_against_reference_input(const at::Tensor& x, const QuantFormat& f, Backend backend) {
  const at::ScalarType dtype = x.scalar_type();
  const PackedTensor want = ref_quantize(x, f);
  const at::Tensor want_x = ref_dequantize(want, f, x.sizes(), dtype);

  const at::Tensor xd = x.to(backend_device(backend));
  const PackedTensor got = quantize_pack(xd, f);
  REQUIRE(bitwise_equal(got.codes, want.codes));
  REQUIRE(bitwise_equal(got.scales, want.scales));
  REQUIRE(bitwise_equal(got.zeros, want.zeros));
  REQUIRE(bitwise_equal(unpack_dequantize(got, f, dtype), want_x));
  REQUIRE(bitwise_equal(fake_quant(xd, f), want_x));
  // The packed tensor dequantizes to any dtype the same way the reference does.
  const at::ScalarType other = dtype == at::kFloat ? at::kBFloat16 : at::kFloat;
  REQUIRE(bitwise_equal(unpack_dequantize(got, f, other), ref_dequantize(want, f, x.sizes(), other)));
  if (backend != Backend::kCpu) return;
  // Every CPU instruction-set variant this machine runs, not only the one the op picks.
  const ops::QuantInput in = ops::check_quant_input(x, f, "test");
  for (const QuantCpuVariant& v : quant_cpu_variants()) {
    CAPTURE(v.name);
    PackedTensor p = packed_like(x, f);
    auto* words = reinterpret_cast<uint32_t*>(p.codes.data_ptr<int32_t>());
    REQUIRE(v.quantize(f, in.layout, x.data_ptr(), in.type, words, p.scales.data_ptr(),
                       p.zeros.defined() ? p.zeros.data_ptr() : nullptr) == 0);
    REQUIRE(bitwise_equal(p.codes, want.codes));
    REQUIRE(bitwise_equal(p.scales, want.scales));
    REQUIRE(bitwise_equal(p.zeros, want.zeros));
    at::Tensor y = at::empty_like(x);
    v.dequantize(f, in.layout, words, p.scales.data_ptr(), p.zeros.defined() ? p.zeros.data_ptr() : nullptr,
                 y.data_ptr(), in.type);
    REQUIRE(bitwise_equal(y, want_x));
    REQUIRE(v.fake_quant(f, in.layout, x.data_ptr(), in.type, y.data_ptr()) == 0);
    REQUIRE(bitwise_equal(y, want_x));
  }
}

void check_against_reference(const QuantFormat& f, const std::vector<int64_t>& shape,
                             at::ScalarType dtype, Backend backend, uint64_t seed) {
  check_against_reference_input(random_input(shape, seed, dtype), f, backend);
}

// Each runs its generated cases on one backend; the CPU and CUDA test cases below share them.
void registry_formats_agree(Backend backend) {
  const auto& registry = format_registry();
  const size_t index = GENERATE_COPY(range<size_t>(0, registry.size()));
  const std::vector<int64_t> shape = GENERATE(values<std::vector<int64_t>>(
      {{1, 128}, {2, 7, 128}, {3, 17, 128}, {2, 1025, 128}, {1, 2, 33, 128}}));
  const at::ScalarType dtype = GENERATE(at::kFloat, at::kBFloat16, at::kHalf);
  CAPTURE(registry[index].name, shape_text(shape), dtype, backend_name(backend));
  check_against_reference(registry[index].format, shape, dtype, backend, 1000 + index);
}

void odd_formats_agree(Backend backend) {
  struct Case {
    QuantFormat f;
    int64_t channels;
  };
  const auto ch = QuantAxis::kPerChannel, tok = QuantAxis::kPerToken;
  QuantFormat fp8_f16 = fp8_format(Fp8Scope::kPerHead);
  fp8_f16.scale_dtype = ScaleDtype::kF16;
  const Case c = GENERATE_COPY(values<Case>({
      {uniform_format(4, ch, 31), 64},                       // group - 1
      {uniform_format(4, ch, 33), 64},                       // group + 1
      {uniform_format(3, ch, 33, 0, true), 40},              // codes straddling words
      {uniform_format(2, tok, 31), 62},
      {uniform_format(4, tok, 33), 99},
      {uniform_format(3, tok, 32), 96},
      {uniform_format(8, tok, 48, 0, true), 96},             // not a power of two
      {ternary_format(ch, 31), 16},
      {ternary_format(tok, 20), 60},                         // exactly one word of trits
      {uniform_format(4, ch, 32, 0, false, ScaleDtype::kF32), 128},
      {uniform_format(2, tok, 32, 0, true, ScaleDtype::kF32), 128},
      {uniform_format(1, tok, 0, 0, true, ScaleDtype::kF32), 128},
      {ternary_format(ch, 32, 0, ScaleDtype::kF32), 128},
      {fp8_f16, 130},                                        // a partial code word per row
  }));
  const int64_t tokens = GENERATE(1, 7, 31, 32, 33, 1025);
  const at::ScalarType dtype = GENERATE(at::kFloat, at::kBFloat16, at::kHalf);
  CAPTURE(format_name(c.f), tokens, c.channels, dtype, backend_name(backend));
  check_against_reference(c.f, {2, tokens, c.channels}, dtype, backend, 77 + tokens);
}

}  // namespace

TEST_CASE("registry formats: the CPU kernels agree bit for bit with the reference",
          "[kernels][codes]") {
  registry_formats_agree(Backend::kCpu);
}

TEST_CASE("registry formats: the CUDA kernels agree bit for bit with the reference",
          "[kernels][codes][cuda]") {
  if (skip_without_cuda()) return;
  registry_formats_agree(Backend::kCuda);
}

TEST_CASE("odd groups, fp32 scales and fp16-scaled fp8: CPU agrees bit for bit with the reference",
          "[kernels][codes]") {
  odd_formats_agree(Backend::kCpu);
}

TEST_CASE("odd groups, fp32 scales and fp16-scaled fp8: CUDA agrees bit for bit with the reference",
          "[kernels][codes][cuda]") {
  if (skip_without_cuda()) return;
  odd_formats_agree(Backend::kCuda);
}

TEST_CASE("signed zeros and constant groups agree bit for bit with the reference",
          "[kernels][codes]") {
  // A max or min over +0 and -0 is order-dependent; every version must still store +0.
  at::Tensor x = random_input({2, 64, 128}, 9, at::kFloat);
  x[0].slice(0, 0, 32).fill_(0.0f);
  x[0].slice(0, 0, 32).slice(1, 0, 64).fill_(-0.0f);
  x[1].slice(0, 32, 64).fill_(-0.25f);
  const QuantFormat f = GENERATE(uniform_format(4, QuantAxis::kPerChannel, 32),
                                 uniform_format(4, QuantAxis::kPerToken, 32, 0, true),
                                 uniform_format(2, QuantAxis::kPerToken, 0),
                                 ternary_format(QuantAxis::kPerChannel, 32),
                                 fp8_format(Fp8Scope::kPerHead));
  CAPTURE(format_name(f));
  check_against_reference_input(x, f, Backend::kCpu);
}

TEST_CASE("outputs large enough for streamed stores agree bit for bit with the reference",
          "[kernels][codes]") {
  // 16 MB in fp32 and 8 MB in bf16: both dequantized outputs reach the non-temporal store path.
  const std::vector<int64_t> shape{4, 8192, 128};
  REQUIRE(4 * 8192 * 128 * 2 >= kCpuStreamStoreBytes);
  const QuantFormat f = GENERATE(uniform_format(2, QuantAxis::kPerChannel, 32),
                                 uniform_format(4, QuantAxis::kPerToken, 32),
                                 uniform_format(8, QuantAxis::kPerToken, 128, 0, true));
  CAPTURE(format_name(f));
  check_against_reference(f, shape, at::kFloat, Backend::kCpu, 4242);
}

TEST_CASE("a NaN or inf anywhere poisons exactly its group's scale, as in the reference",
          "[kernels][codes]") {
  // The AVX-512 kernels find non-finite input from the group's min and max (vrangeps keeps a
  // NaN), not per element: every position of a group, first, last and middle lanes of a vector,
  // must still be caught, and a finite group whose values sum past fp32 must not be.
  const QuantFormat f = GENERATE(uniform_format(2, QuantAxis::kPerChannel, 32),
                                 uniform_format(4, QuantAxis::kPerToken, 32),
                                 uniform_format(4, QuantAxis::kPerToken, 64, 0, true),
                                 uniform_format(8, QuantAxis::kPerChannel, 32, 0, true, ScaleDtype::kF32),
                                 uniform_format(2, QuantAxis::kPerToken, 32, 0, false, ScaleDtype::kF32));
  const at::ScalarType dtype = GENERATE(at::kFloat, at::kBFloat16);
  CAPTURE(format_name(f), dtype);
  const at::Tensor x = random_input({2, 64, 128}, 5, at::kFloat);
  const std::vector<std::pair<int64_t, int64_t>> where{{0, 0}, {17, 5}, {31, 127}, {32, 64},
                                                       {40, 15}, {63, 16}, {1, 31}, {50, 33}};
  for (float bad : {NAN, INFINITY, -INFINITY, 3e38f}) {
    for (const auto& [t, c] : where) {
      CAPTURE(bad, t, c);
      at::Tensor y = x.clone();
      y[1][t][c] = bad;
      if (bad == 3e38f) y[1].slice(0, 32, 64).slice(1, 64, 96).fill_(3e38f);  // finite, sums to inf
      y = y.to(dtype).contiguous();
      int64_t want_bad = 0;
      const PackedTensor want = ref_quantize(y, f, &want_bad);
      const ops::QuantInput in = ops::check_quant_input(y, f, "test");
      for (const QuantCpuVariant& v : quant_cpu_variants()) {
        CAPTURE(v.name);
        PackedTensor p = packed_like(y, f);
        const int64_t got_bad = v.quantize(f, in.layout, y.data_ptr(), in.type,
                                           reinterpret_cast<uint32_t*>(p.codes.data_ptr<int32_t>()),
                                           p.scales.data_ptr(), p.zeros.defined() ? p.zeros.data_ptr() : nullptr);
        REQUIRE(got_bad == want_bad);
        REQUIRE(bitwise_equal(p.scales, want.scales));  // the poisoned ones included
        at::Tensor out = at::empty_like(y);
        REQUIRE(v.fake_quant(f, in.layout, y.data_ptr(), in.type, out.data_ptr()) == want_bad);
      }
    }
  }
}

TEST_CASE("empty inputs give empty outputs", "[kernels][codes]") {
  for (const QuantFormat& f : {uniform_format(4, QuantAxis::kPerChannel, 32),
                               uniform_format(2, QuantAxis::kPerToken, 32),
                               fp8_format(Fp8Scope::kPerTensor)}) {
    CAPTURE(format_name(f));
    const at::Tensor x = at::zeros({2, 0, 64});
    const PackedTensor p = quantize_pack(x, f);
    CHECK(p.codes.numel() == 0);
    CHECK(unpack_dequantize(p, f, at::kFloat).sizes() == x.sizes());
    CHECK(fake_quant(x, f).sizes() == x.sizes());
  }
}
