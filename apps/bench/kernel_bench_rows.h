#pragma once
// What the CPU run (kernel_bench.cpp) and the GPU run (kernel_bench_cuda.cpp) of the kernel
// benchmark share: the decode-attention inputs and their libtorch baseline, and how measured
// times become result rows.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <spdlog/fmt/fmt.h>

#include <cmath>
#include <string>
#include <vector>

#include "apps/bench/kernel_bench.h"
#include "kernels/ops.h"

namespace kvmix::bench {

// One decode step of T tokens of context: q [1, Hq, D] against K and V [1, Hkv, T, D] (fp32), and
// the same K/V as KIVI stores them (keys per-channel, values per-token, G = 32, the last up to 32
// tokens in a full-precision residual). Drawn on the CPU from o.seed + T, so both devices see the
// same numbers, then moved to `device`.
struct AttentionInputs {
  at::Tensor q, k, v, k_resid, v_resid;
  PackedTensor k_packed, v_packed;
  QuantFormat kf, vf;
};

inline AttentionInputs attention_inputs(const KernelBenchOptions& o, int64_t T, int bits, at::Device device) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(o.seed + T);
  AttentionInputs in;
  in.k = at::randn({1, o.kv_heads, T, o.head_dim}, gen).to(device);
  in.v = at::randn({1, o.kv_heads, T, o.head_dim}, gen).to(device);
  in.q = at::randn({1, o.q_heads, o.head_dim}, gen).to(device);
  in.kf = uniform_format(bits, QuantAxis::kPerChannel, 32, 32);
  in.vf = uniform_format(bits, QuantAxis::kPerToken, 32, 32);
  const int64_t tk = T - residual_tokens(in.kf, T), tv = T - residual_tokens(in.vf, T);
  in.k_packed = quantize_pack(in.k.slice(2, 0, tk).contiguous(), in.kf);
  in.v_packed = quantize_pack(in.v.slice(2, 0, tv).contiguous(), in.vf);
  in.k_resid = in.k.slice(2, tk).contiguous();
  in.v_resid = in.v.slice(2, tv).contiguous();
  return in;
}

inline at::Tensor fused_attention(const AttentionInputs& in) {
  return decode_attention(in.q, in.k_packed, in.kf, in.k_resid, in.v_packed, in.vf, in.v_resid, at::Tensor());
}

// The baseline: libtorch attention over the fp32 K and V (matmul, softmax, matmul), grouped-query.
inline at::Tensor torch_attention(const AttentionInputs& in) {
  const int64_t Hkv = in.k.size(1), D = in.k.size(3), Hq = in.q.size(1);
  const at::Tensor s = at::matmul(in.q.view({1, Hkv, Hq / Hkv, D}), in.k.transpose(2, 3)) /
                       std::sqrt(static_cast<double>(D));
  return at::matmul(at::softmax(s, -1), in.v).view({1, Hq, D});
}

inline BenchResult attention_row(int64_t T, int bits, double seconds, double torch_seconds) {
  BenchResult r;
  r.kind = "attention";
  r.bits = bits;
  r.name = fmt::format("decode attention u{} K/V (KIVI g32 r32) {} tokens", bits, T);
  r.seconds = seconds;
  r.torch_seconds = torch_seconds;
  r.speedup_vs_torch = torch_seconds / seconds;
  if (bits == 4 && T == kTargetAttentionTokens) {
    r.target = kTargetAttentionSpeedup;
    r.meets_target = r.speedup_vs_torch >= kTargetAttentionSpeedup;
  }
  return r;
}

// The quantize+pack and unpack+dequantize rows of one configuration, `bytes` read plus written;
// ratio_to_stream and meets_target wait for finish_ratios.
inline void push_quant_rows(bool per_channel, int bits, int64_t group, at::ScalarType dtype, double bytes,
                            double tq, double td, double tq_torch, double td_torch,
                            double in_cache_gbps, std::vector<BenchResult>& out) {
  const std::string what = fmt::format("{} u{} g{} {}", per_channel ? "keys (per-channel)" : "values (per-token)",
                                        bits, group, dtype == at::kFloat ? "fp32" : "bf16");
  for (int dir = 0; dir < 2; ++dir) {
    BenchResult r;
    r.kind = dir == 0 ? "quantize" : "dequantize";
    r.name = fmt::format("{} {}", dir == 0 ? "quantize+pack" : "unpack+dequantize", what);
    r.seconds = dir == 0 ? tq : td;
    r.torch_seconds = dir == 0 ? tq_torch : td_torch;
    r.gbps = bytes / r.seconds / 1e9;
    r.in_cache_gbps = dir == 0 ? in_cache_gbps : 0.0;
    r.speedup_vs_torch = r.torch_seconds / r.seconds;
    r.target = kTargetRatioToStream;
    out.push_back(r);
  }
}

// Every bandwidth row's ratio to the run's STREAM figure, and the quantize/dequantize verdicts.
inline void finish_ratios(KernelBenchReport& rep) {
  for (BenchResult& r : rep.results) {
    r.ratio_to_stream = r.gbps / rep.stream_gbps;
    if (r.kind == "quantize" || r.kind == "dequantize")
      r.meets_target = r.ratio_to_stream >= kTargetRatioToStream &&
                       r.speedup_vs_torch >= kTargetSpeedupVsTorchOps;
  }
}

}  // namespace kvmix::bench
