// Every token policy's cache on a CUDA device against the same cache on the CPU, fed the same
// keys, values and queries. The prefill's attention is computed before any policy decision and
// must agree within summation-order rounding; later steps attend to what each policy kept, which
// a near-tie of two priorities (equal up to fp32 rounding, decided differently by the two devices)
// may change, so there only the budget, the byte count and finite outputs are compared. Skipped
// (and reported so by ctest) without a GPU.
#include <catch2/catch.hpp>

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "lib/policies/make_policy.h"
#include "lib/policies/policy_kv_cache.h"
#include "tests/cuda_device.h"

using namespace kvmix;

namespace {

// As for the caches (tests/lib/cache/cache_cuda_test.cpp): means of standard normal values summed
// in other orders.
constexpr double kOutTol = 1e-4;
// Tier counts follow from the budget alone for the eviction policies; ZipVL's and VidKV's high-tier
// counts also follow from attention mass thresholds, which a rounding difference can move by a
// token. Bytes per token differ by at most one token's tier change per head in such a case.
constexpr double kBytesRelTol = 0.02;

constexpr int64_t kLayers = 2, kQHeads = 4, kKvHeads = 2, kHeadDim = 32, kBatch = 2;
constexpr int64_t kPrefill = 24, kDecode = 8;

KvShape shape() {
  KvShape s;
  s.architecture = "llama";
  s.layers = kLayers;
  s.q_heads = kQHeads;
  s.kv_heads = kKvHeads;
  s.head_dim = kHeadDim;
  return s;
}

struct Run {
  std::vector<at::Tensor> prefill, decode;  // per layer / per step and layer, on the host
  int64_t true_bytes = 0;
  double budget_use = 0;
};

Run run(PolicyKvCache& cache, at::Device device) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(23);
  auto draw = [&](int64_t heads, int64_t T) {
    return at::randn({kBatch, heads, T, kHeadDim}, gen, at::kFloat).to(device);
  };
  Run r;
  for (int64_t step = 0; step <= kDecode; ++step) {
    const int64_t T = step == 0 ? kPrefill : 1;
    at::Tensor valid = at::ones({kBatch, T}, at::kBool);
    if (step == 0) valid[1].narrow(0, 0, 5).fill_(false);  // a left-padded second sequence
    cache.begin_step(valid.to(device));
    for (int64_t l = 0; l < kLayers; ++l) {
      const at::Tensor q = draw(kQHeads, T), k = draw(kKvHeads, T), v = draw(kKvHeads, T);
      const at::Tensor out = cache.attend(l, q, k, v);
      CHECK(out.device() == q.device());
      CHECK(cache.tiers(l).device() == q.device());
      (step == 0 ? r.prefill : r.decode).push_back(out.to(at::kCPU));
    }
  }
  r.true_bytes = cache.true_bytes();
  r.budget_use = cache.max_budget_use();
  return r;
}

}  // namespace

TEST_CASE("every token policy runs on CUDA as on the CPU", "[policies][cuda]") {
  if (test::skip_without_cuda_device()) return;
  for (PolicyKind kind : all_policies()) {
    INFO(policy_name(kind));
    PolicyKvCache cpu_cache(shape(), make_token_policy(kind, kLayers), 0.5);
    PolicyKvCache gpu_cache(shape(), make_token_policy(kind, kLayers), 0.5);
    const Run cpu = run(cpu_cache, at::Device(at::kCPU));
    const Run gpu = run(gpu_cache, at::Device(at::kCUDA));
    REQUIRE(gpu.prefill.size() == cpu.prefill.size());
    for (size_t i = 0; i < cpu.prefill.size(); ++i)
      CHECK((gpu.prefill[i] - cpu.prefill[i]).abs().max().item<double>() < kOutTol);
    for (const at::Tensor& out : gpu.decode) CHECK(at::isfinite(out).all().item<bool>());
    CHECK(gpu.budget_use <= 1.0 + 1e-9);
    CHECK(std::abs(static_cast<double>(gpu.true_bytes - cpu.true_bytes)) <=
          kBytesRelTol * static_cast<double>(cpu.true_bytes));
  }
}
