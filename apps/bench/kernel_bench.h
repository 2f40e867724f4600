#pragma once
// The kernel benchmark behind `kvmix bench kernels` (llm.c's dev/cuda habit: every figure is a
// ratio to a baseline measured in the same run). One run measures
//   - a STREAM-like scale (a[i] = s*b[i]) over fp32 buffers as large as the KV tensor: the
//     machine's practical memory bandwidth;
//   - quantize+pack and unpack+dequantize of KIVI keys (per-channel, G = 32) and values
//     (per-token, G = 32) at 2 and 4 bits, fp32 and bf16 input, in GB/s counting bytes read and
//     written, against the same work written as a composite of libtorch ops (min, max, round,
//     clamp, shifts), the way Python KV-quant code does it;
//     Each quantize+pack figure also has an in-cache rate: the same kernel over a slice of 1,024
//     tokens per thread (512 KB of fp32 input per core, inside L2), so no DRAM traffic: the
//     kernel's arithmetic throughput. Where that alone is below the target ratio, the kernel is
//     compute-bound at this thread count and no memory-side change can meet the target. A
//     non-temporal fill of the fp32 tensor is the floor under an unpack+dequantize's time;
//   - fused decode attention over packed 4- and 2-bit K/V against libtorch attention
//     (matmul, softmax, matmul) over fp32 K and V, at several context lengths.
// Each figure is the median of `repeats` timed runs after one warm-up run. The library measures
// and formats; the command prints.
#include <string>
#include <vector>

namespace kvmix::bench {

struct KernelBenchOptions {
  int64_t kv_heads = 8;
  int64_t tokens = 16384;  // the quantize/dequantize tensor: [kv_heads, tokens, head_dim]
  int64_t head_dim = 128;
  int64_t q_heads = 32;    // decode attention: one query token per head
  std::vector<int64_t> attention_tokens = {4096, 16384, 32768};
  int repeats = 9;
  uint64_t seed = 1;
  // Threads for the kernels and libtorch alike (0: every CPU). libtorch otherwise picks its own
  // count on first use and sets OpenMP's for the whole process (1 on a 2-vCPU VM).
  int threads = 0;
  // Keep freed memory in the process (glibc: no mmap, no trimming), so a libtorch op that
  // allocates its output does not pay first-touch page faults on every call: the baseline is
  // measured at its best. False measures the allocator as a fresh process has it.
  bool warm_allocator = true;
  // "cpu", or "cuda": the same figures on the current GPU (kernel_bench_cuda.h); a GPU needs a
  // larger tensor than the CPU default for its figures to be more than launch overhead (for
  // example --tokens 131072).
  std::string device = "cpu";
};

// One measured figure. Bandwidth rows fill gbps and ratio_to_stream; attention rows leave them 0.
struct BenchResult {
  std::string name;
  std::string kind;            // "stream", "fill", "quantize", "dequantize", "attention"
  double seconds = 0;          // median
  double gbps = 0;             // (bytes read + bytes written) / seconds / 1e9
  double ratio_to_stream = 0;  // gbps / stream gbps
  double in_cache_gbps = 0;    // the same bytes per second over an L2-resident slice (0: none)
  double torch_seconds = 0;    // the libtorch baseline's median (0 for stream)
  double speedup_vs_torch = 0; // torch_seconds / seconds
  int bits = 0;                // attention rows: bits of the packed K/V
  double sdpa_seconds = 0;     // CUDA attention rows: torch's scaled_dot_product_attention over
                               // fp16 K/V, the kernel a serving engine runs without kvmix (0: none)
  double speedup_vs_sdpa = 0;  // sdpa_seconds / seconds
  double target = 0;           // the ratio or speedup this row is held to (0: none)
  bool meets_target = true;
};

struct KernelBenchReport {
  KernelBenchOptions options;
  std::string device = "cpu";
  int threads = 0;            // OpenMP threads the kernels and libtorch used
  double stream_gbps = 0;      // the baseline's GB/s, which ratio_to_stream divides by
  std::string baseline = "STREAM scale";  // CUDA: the device-to-device copy
  std::vector<BenchResult> results;
};

// Targets on the project's 2-core CI machine (the brief of issue 2).
constexpr double kTargetRatioToStream = 0.7;   // quantize/dequantize vs STREAM scale
constexpr double kTargetSpeedupVsTorchOps = 10; // vs the libtorch composite
constexpr double kTargetAttentionSpeedup = 3;  // 4-bit fused attention vs fp32 libtorch, 16k tokens
constexpr int64_t kTargetAttentionTokens = 16384;
// On a GPU (issue 14): 4-bit fused decode attention against torch's scaled_dot_product_attention
// over fp16 K/V, at 32k and 128k tokens.
constexpr double kTargetSdpaSpeedup = 2;

KernelBenchReport run_kernel_bench(const KernelBenchOptions& o);

// {"schema":"kvmix.bench.kernels","version":1,...,"results":[...]}
std::string kernel_bench_json(const KernelBenchReport& r);
std::string kernel_bench_table(const KernelBenchReport& r);

}  // namespace kvmix::bench
