// `kvmix bench kernels`: quantize/dequantize bandwidth and fused decode attention against STREAM
// and libtorch (apps/bench/kernel_bench.h says what is measured).
#include <cstdio>

#include "apps/bench/kernel_bench.h"
#include "apps/kvmix/cmd_bench.h"
#include "apps/kvmix/value_checks.h"
#include "base/error.h"

namespace kvmix::app {
namespace {

constexpr int64_t kMaxBenchTokens = int64_t{1} << 20;

struct BenchKernelsOptions {
  bench::KernelBenchOptions bench;  // shapes, repeats and seed; defaults in kernel_bench.h
  bool json = false;                // one JSON object instead of the table
  bool cold_allocator = false;      // measure with glibc's default allocator behaviour
};

int run_bench_kernels(const BenchKernelsOptions& o) {
  // `--attention-tokens ,` gets past CLI11 as an empty list.
  if (o.bench.attention_tokens.empty()) throw UsageError("--attention-tokens: the list is empty");
  bench::KernelBenchOptions b = o.bench;
  b.warm_allocator = !o.cold_allocator;
  const bench::KernelBenchReport r = bench::run_kernel_bench(b);
  const std::string text = o.json ? bench::kernel_bench_json(r) : bench::kernel_bench_table(r);
  std::fputs(text.c_str(), stdout);
  return 0;
}

Command setup_bench_kernels(CLI::App& parent) {
  auto o = std::make_shared<BenchKernelsOptions>();
  auto* sub = parent.add_subcommand("kernels", "Quantize/dequantize bandwidth and fused decode attention vs STREAM and libtorch");
  sub->add_flag("--json", o->json, "Print one JSON object (schema kvmix.bench.kernels)");
  sub->add_option("--repeats", o->bench.repeats, "Timed runs per figure (the median is reported)")
      ->check(CLI::PositiveNumber)->capture_default_str();
  // Per-channel formats group 32 tokens, so the tensor holds whole groups; 2^20 tokens is a 4 GiB
  // fp32 tensor at the default shape, beyond which the run only measures swapping.
  sub->add_option("--tokens", o->bench.tokens, "Tokens of the quantize/dequantize tensor [kv_heads, tokens, head_dim]")
      ->check(multiple_of(32, kMaxBenchTokens))->capture_default_str();
  sub->add_option("--attention-tokens", o->bench.attention_tokens, "Context lengths of the attention figures")
      ->delimiter(',')->check(non_empty())->check(CLI::Range(int64_t{1}, kMaxBenchTokens))
      ->capture_default_str();
  sub->add_option("--seed", o->bench.seed, "Seed of the random inputs")->capture_default_str();
  sub->add_option("--threads", o->bench.threads, "Threads for kvmix and libtorch (0: every CPU)")
      ->check(thread_count())->capture_default_str();
  sub->add_option("--device", o->bench.device, "cpu, or cuda (needs a libtorch with CUDA and a GPU)")
      ->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();
  sub->add_flag("--cold-allocator", o->cold_allocator,
                "Let glibc return freed memory (libtorch ops then pay page faults on every call)");
  return {sub, [o] { return run_bench_kernels(*o); }};
}

}  // namespace
KVMIX_REGISTER_BENCH(setup_bench_kernels);
}  // namespace kvmix::app
