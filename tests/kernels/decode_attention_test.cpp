// Fused decode attention (reference, CPU, CUDA) against softmax(q K^T / sqrt(D)) V computed with
// libtorch in double precision from the dequantized K and V plus their residual windows.
#include <catch2/catch.hpp>

#include <cfloat>
#include <cmath>

#include "kernels/decode_attention.h"
#include "kernels/decode_attention_cpu_item.h"
#include "tests/kernels/kernel_test_util.h"

using namespace kvmix;
using namespace kvmix::test;

namespace {

// Each fp32 score is a D-term sum; the fused kernels form it as sum_d (q_d*A_d)*c_td +
// sum_d q_d*B_d (k = c*A + B, |B| <= max_t |k_td|), so its rounding error is at most
// (D + kScoreExtraRoundings)*u times sum_d |q_d|*(|k_td| + 2*max_t|k_td|) / sqrt(D) (Higham's
// gamma_n bound, u = eps/2, in any summation order). A score error ds moves each softmax weight
// by at most 2*ds relative and the output is a convex combination of value rows, so
// |dout| <= 2*ds*max|v|, plus kAccumSlack*max|v| for the T-term weighted sums and the exp.
constexpr double kUnitRoundoff = FLT_EPSILON / 2;
constexpr double kScoreExtraRoundings = 8;  // q scaling, q*A, bias, the exp argument
constexpr double kAccumSlack = 64 * FLT_EPSILON;
// A bf16 output keeps 8 significant bits: rounding moves it by at most half an ulp, 2^-8 relative.
constexpr double kBf16Rounding = 1.0 / 256;

struct Shape {
  int64_t batch, q_heads, kv_heads, dim, tokens;
};

struct Formats {
  QuantFormat k, v;
};

struct AttentionCase {
  at::Tensor q, k_resid, v_resid, valid;
  PackedTensor kp, vp;
  QuantFormat kf, vf;
  at::Tensor expected;  // [B, Hq, D] double
  double tolerance;
  int64_t tokens = 0, q_heads = 0;
};

AttentionCase make_case(const Shape& s, const Formats& fm, at::ScalarType q_dtype, int mask,
                        uint64_t seed) {
  AttentionCase c;
  c.kf = fm.k;
  c.vf = fm.v;
  const at::Tensor k = random_input({s.batch, s.kv_heads, s.tokens, s.dim}, seed, at::kFloat);
  const at::Tensor v = random_input({s.batch, s.kv_heads, s.tokens, s.dim}, seed + 1, at::kFloat, 1.0, 1.0);
  c.q = random_input({s.batch, s.q_heads, s.dim}, seed + 2, q_dtype, 0.3, 1.0);
  const int64_t tk = s.tokens - residual_tokens(fm.k, s.tokens);
  const int64_t tv = s.tokens - residual_tokens(fm.v, s.tokens);
  c.kp = quantize_pack(k.slice(2, 0, tk).contiguous(), fm.k);
  c.vp = quantize_pack(v.slice(2, 0, tv).contiguous(), fm.v);
  c.k_resid = k.slice(2, tk).to(at::kBFloat16).contiguous();  // the model dtype
  c.v_resid = v.slice(2, tv).to(at::kBFloat16).contiguous();
  if (mask > 0) {
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed + 3);
    c.valid = at::rand({s.batch, s.tokens}, gen).gt(0.2);
    if (mask == 2) c.valid[0].fill_(false);  // a batch row with nothing to attend to
  }
  // The dequantized operands, as the kernels see them.
  const at::Tensor kh = at::cat({unpack_dequantize(c.kp, fm.k, at::kFloat), c.k_resid.to(at::kFloat)}, 2).to(at::kDouble);
  const at::Tensor vh = at::cat({unpack_dequantize(c.vp, fm.v, at::kFloat), c.v_resid.to(at::kFloat)}, 2).to(at::kDouble);
  const int64_t g = s.q_heads / s.kv_heads;
  const at::Tensor qd = c.q.to(at::kDouble).reshape({s.batch, s.kv_heads, g, s.dim});
  at::Tensor scores = at::matmul(qd, kh.transpose(2, 3)) / std::sqrt(static_cast<double>(s.dim));
  if (c.valid.defined())
    scores = scores.masked_fill(c.valid.logical_not().reshape({s.batch, 1, 1, s.tokens}), -INFINITY);
  at::Tensor out = at::matmul(at::softmax(scores, -1), vh);  // [B, Hkv, g, D]
  out = at::nan_to_num(out, 0.0).reshape({s.batch, s.q_heads, s.dim});  // all-masked rows -> 0
  c.expected = out;
  const at::Tensor kmax = std::get<0>(kh.abs().max(2, true));  // [B, Hkv, 1, D]
  const at::Tensor terms =
      at::matmul(qd.abs(), (kh.abs() + 2 * kmax).transpose(2, 3)) / std::sqrt(static_cast<double>(s.dim));
  const double ds = (s.dim + kScoreExtraRoundings) * kUnitRoundoff * terms.max().item<double>();
  const double vmax = vh.abs().max().item<double>();
  c.tolerance = (2 * ds + kAccumSlack) * vmax + (q_dtype == at::kFloat ? 0.0 : kBf16Rounding * vmax);
  return c;
}

void check_output(const at::Tensor& got, const AttentionCase& c) {
  const at::Tensor err = (got.cpu().to(at::kDouble) - c.expected).abs();
  INFO("max error " << err.max().item<double>() << ", tolerance " << c.tolerance);
  REQUIRE(at::isfinite(got.cpu().to(at::kFloat)).all().item<bool>());
  REQUIRE(err.max().item<double>() <= c.tolerance);
}

ops::AttentionCall prepare(const AttentionCase& c) {
  return ops::prepare_attention(c.q, c.kp.codes, c.kp.scales, ops::optional_of(c.kp.zeros),
                                c.kp.tokens, c.kf, c.k_resid, c.vp.codes, c.vp.scales,
                                ops::optional_of(c.vp.zeros), c.vp.tokens, c.vf, c.v_resid,
                                ops::optional_of(c.valid));
}

PackedTensor to_device(const PackedTensor& p, at::Device d) {
  PackedTensor o = p;
  o.codes = p.codes.to(d);
  o.scales = p.scales.to(d);
  if (p.zeros.defined()) o.zeros = p.zeros.to(d);
  return o;
}

// The cases every backend runs: formats x shapes x masks x query dtypes (Catch generators, so
// each combination is its own run of the calling test case).
AttentionCase generated_case() {
  const auto ch = QuantAxis::kPerChannel, tok = QuantAxis::kPerToken;
  const Formats fm = GENERATE_COPY(values<Formats>({
      {uniform_format(4, ch, 32, 32), uniform_format(4, tok, 32, 32)},  // KIVI-4
      {uniform_format(2, ch, 32, 32), uniform_format(2, tok, 32, 32)},  // KIVI-2
      {uniform_format(8, ch, 64, 0, true), uniform_format(4, tok, 64, 0, true)},
      {uniform_format(1, ch, 32, 0, true), uniform_format(1, tok, 0)},  // sign keys
      {uniform_format(3, ch, 32, 16), uniform_format(3, tok, 0, 16)},   // generic path (3 bits)
      {uniform_format(4, ch, 24, 0, false, ScaleDtype::kF32),           // G not a multiple of 16
       uniform_format(8, tok, 64, 8, false, ScaleDtype::kF32)},
  }));
  const Shape shape = GENERATE(values<Shape>({
      {1, 4, 1, 128, 1},      // one token: all residual for KIVI
      {2, 8, 2, 128, 100},    // partial groups and residual tails
      {1, 6, 2, 64, 1025},    // 3 query heads per KV head
      {1, 16, 4, 128, 2100},  // several token blocks per head
  }));
  const int mask = GENERATE(0, 1, 2);
  const at::ScalarType q_dtype = GENERATE(at::kFloat, at::kBFloat16);
  CAPTURE(format_name(fm.k), format_name(fm.v), shape.batch, shape.q_heads, shape.kv_heads,
          shape.dim, shape.tokens, mask, q_dtype);
  AttentionCase c = make_case(shape, fm, q_dtype, mask, 40 + shape.tokens);
  c.tokens = shape.tokens;
  c.q_heads = shape.q_heads;
  return c;
}

}  // namespace

TEST_CASE("fused decode attention matches libtorch attention over the dequantized cache",
          "[kernels][attention]") {
  const AttentionCase c = generated_case();

  SECTION("reference") {
    if (c.tokens * c.q_heads > 20000) return;  // the scalar oracle is slow; small cases only
    ops::AttentionCall call = prepare(c);
    decode_attention_ref(call.args);
    check_output(call.out, c);
  }
  SECTION("cpu op (the fastest variant this CPU runs)") {
    check_output(decode_attention(c.q, c.kp, c.kf, c.k_resid, c.vp, c.vf, c.v_resid, c.valid), c);
  }
  SECTION("every CPU instruction-set variant this CPU runs") {
    for (const attn::ItemVariant& v : attn::available_item_variants()) {
      CAPTURE(v.name);
      ops::AttentionCall call = prepare(c);
      attn::decode_attention_cpu_using(call.args, v.fn);
      check_output(call.out, c);
    }
  }
}

TEST_CASE("fused decode attention on CUDA matches libtorch attention over the dequantized cache",
          "[kernels][attention][cuda]") {
  if (skip_without_cuda()) return;
  const AttentionCase c = generated_case();
  const at::Device d(at::kCUDA);
  check_output(decode_attention(c.q.to(d), to_device(c.kp, d), c.kf, c.k_resid.to(d),
                                to_device(c.vp, d), c.vf, c.v_resid.to(d),
                                c.valid.defined() ? c.valid.to(d) : at::Tensor()),
               c);
}
