#include "apps/bench/kernel_bench_cuda.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <spdlog/fmt/fmt.h>
#include <torch/version.h>  // TORCH_VERSION_MAJOR: scaled_dot_product_attention is torch 2's

#include "apps/bench/bench_timing.h"
#include "apps/bench/kernel_bench_rows.h"
#include "apps/bench/torch_composite.h"
#include "kernels/ops.h"
#include "base/error.h"

namespace kvmix::bench {

namespace {

// GPU work is asynchronous: a figure times kInner calls followed by one synchronization (a
// one-element copy to the host on the same stream) and divides by kInner, so one host round trip
// is spread over many calls. The kvmix ops themselves read back their non-finite count, one
// round trip per call, which their figures include: it is what a caller of the op pays.
constexpr int kInner = 20;

template <class F>
double device_seconds(int repeats, const at::Tensor& probe, F&& f) {
  return median_seconds(repeats, [&] {
           for (int i = 0; i < kInner; ++i) f();
           (void)probe.item<float>();
         }) / kInner;
}

at::Tensor random_on(at::IntArrayRef shape, uint64_t seed, at::ScalarType dtype) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randn(shape, gen).to(dtype).to(at::kCUDA).contiguous();
}

void bench_quant(const KernelBenchOptions& o, bool per_channel, int bits, at::ScalarType dtype,
                 const at::Tensor& probe, std::vector<BenchResult>& out) {
  const QuantAxis axis = per_channel ? QuantAxis::kPerChannel : QuantAxis::kPerToken;
  const int64_t G = 32;
  const QuantFormat f = uniform_format(bits, axis, static_cast<int>(G));
  const at::Tensor x = random_on({o.kv_heads, o.tokens, o.head_dim}, o.seed, dtype);
  PackedTensor p = quantize_pack(x, f);
  const double bytes = static_cast<double>(x.nbytes() + p.codes.nbytes() + p.scales.nbytes() +
                                           (p.zeros.defined() ? p.zeros.nbytes() : 0));
  const double tq = device_seconds(o.repeats, probe, [&] { p = quantize_pack(x, f); });
  const double td = device_seconds(o.repeats, probe, [&] { (void)unpack_dequantize(p, f, dtype); });
  TorchPacked tp;
  const double tq_torch = device_seconds(o.repeats, probe, [&] { tp = torch_quantize(x, bits, per_channel, G); });
  const double td_torch = device_seconds(o.repeats, probe, [&] {
    (void)torch_dequantize(tp, bits, per_channel, G, x.sizes(), dtype);
  });
  push_quant_rows(per_channel, bits, G, dtype, bytes, tq, td, tq_torch, td_torch, 0.0, out);
}

void bench_attention(const KernelBenchOptions& o, int64_t T, int bits, const at::Tensor& probe,
                     std::vector<BenchResult>& out) {
  const AttentionInputs in = attention_inputs(o, T, bits, at::kCUDA);
  const double seconds = device_seconds(o.repeats, probe, [&] { (void)fused_attention(in); });
  const double torch_seconds = device_seconds(o.repeats, probe, [&] { (void)torch_attention(in); });
  BenchResult row = attention_row(T, bits, seconds, torch_seconds);
#if TORCH_VERSION_MAJOR >= 2
  // What an engine runs without kvmix: torch's fused attention over fp16 K/V. The query heads that
  // share a KV head are folded into the query axis ([1, Hkv, g, D]), so K/V are read once, as
  // grouped-query attention reads them; a decode query sees every key (no mask).
  const int64_t Hkv = in.k.size(1), D = in.k.size(3), g = in.q.size(1) / Hkv;
  const at::Tensor q16 = in.q.view({1, Hkv, g, D}).to(at::kHalf);
  const at::Tensor k16 = in.k.to(at::kHalf), v16 = in.v.to(at::kHalf);
  row.sdpa_seconds =
      device_seconds(o.repeats, probe, [&] { (void)at::scaled_dot_product_attention(q16, k16, v16); });
  row.speedup_vs_sdpa = row.sdpa_seconds / seconds;
#endif
  out.push_back(row);
}

}  // namespace

KernelBenchReport run_kernel_bench_cuda(const KernelBenchOptions& o) {
  if (!at::hasCUDA())
    throw Error("bench kernels --device cuda: this kvmix's libtorch has no CUDA, or no GPU is visible "
                "(build against a CUDA libtorch, e.g. the one a pip torch wheel ships)");
  KernelBenchReport rep;
  rep.options = o;
  rep.device = "cuda";
  const at::Tensor probe = at::zeros({1}, at::TensorOptions().device(at::kCUDA));
  const int64_t n = o.kv_heads * o.tokens * o.head_dim;
  at::Tensor a = at::zeros({n}, probe.options());
  const at::Tensor b = at::ones({n}, probe.options());
  const at::Tensor three = at::scalar_tensor(3.0, probe.options());
  // The baseline of the quantize/dequantize figures: a device-to-device copy (read n, write n).
  BenchResult copy;
  copy.kind = "copy";
  copy.name = fmt::format("device-to-device copy, 2 x {} MB fp32", n * 4 / 1000000);
  copy.seconds = device_seconds(o.repeats, probe, [&] { a.copy_(b); });
  copy.gbps = 2.0 * 4.0 * static_cast<double>(n) / copy.seconds / 1e9;
  BenchResult stream;
  stream.kind = "stream";
  stream.name = fmt::format("STREAM scale, 2 x {} MB fp32", n * 4 / 1000000);
  stream.seconds = device_seconds(o.repeats, probe, [&] { at::mul_out(a, b, three); });
  stream.gbps = 2.0 * 4.0 * static_cast<double>(n) / stream.seconds / 1e9;
  rep.stream_gbps = copy.gbps;
  rep.baseline = "device-to-device copy";
  BenchResult fill;
  fill.kind = "fill";
  fill.name = fmt::format("fill, {} MB fp32", n * 4 / 1000000);
  fill.seconds = device_seconds(o.repeats, probe, [&] { a.fill_(2.0); });
  fill.gbps = 4.0 * static_cast<double>(n) / fill.seconds / 1e9;
  rep.results = {copy, stream, fill};
  for (bool per_channel : {true, false})
    for (int bits : {2, 4})
      for (at::ScalarType dtype : {at::kFloat, at::kBFloat16})
        bench_quant(o, per_channel, bits, dtype, probe, rep.results);
  finish_ratios(rep);
  for (int64_t T : o.attention_tokens)
    for (int bits : {4, 2}) bench_attention(o, T, bits, probe, rep.results);
  return rep;
}

}  // namespace kvmix::bench
