// The packed and fake-quant caches on a CUDA device against the same caches on the CPU, fed the
// same keys, values and queries: the stored codes and scales (seen dequantized) bit for bit, the
// attention outputs within summation-order rounding, the same bytes. Skipped (and reported so by
// ctest) without a GPU.
#include <catch2/catch.hpp>

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <memory>

#include "lib/cache/fake_quant_kv_cache.h"
#include "lib/cache/packed_kv_cache.h"
#include "tests/cuda_device.h"

using namespace kvmix;

namespace {

// Attention outputs are softmax-weighted means of standard normal values (|out| <= a few): the
// same dequantized numbers summed in other orders (the fused kernel's online softmax over blocks,
// cuBLAS against the CPU's matmul) differ by a few fp32 ulps; a wrong code, scale, window or
// flush boundary moves them by 1e-2 or more.
constexpr double kOutTol = 1e-4;

constexpr int64_t kLayers = 2, kQHeads = 4, kKvHeads = 2, kHeadDim = 32, kBatch = 2;
constexpr int64_t kPrefill = 40, kDecode = 40;  // KIVI's groups and windows of 32 flush on the way

KvShape shape() {
  KvShape s;
  s.architecture = "llama";
  s.layers = kLayers;
  s.q_heads = kQHeads;
  s.kv_heads = kKvHeads;
  s.head_dim = kHeadDim;
  return s;
}

// Records what each layer attended to in the step it watches: the stored past, dequantized.
struct Seen : AttentionObserver {
  std::vector<at::Tensor> keys, values;
  void on_attention(const AttentionEvent& e) override {
    keys.push_back(e.keys.to(at::kCPU));
    values.push_back(e.values.to(at::kCPU));
  }
};

struct Run {
  std::vector<at::Tensor> outputs;  // every step and layer, on the host
  std::vector<at::Tensor> keys, values;
  int64_t true_bytes = 0;
};

// Steps with inputs drawn on the host from one seed, moved to `device`: a prefill, single-token
// decode steps, and a last step watched by an observer (which takes the dequantize path).
Run run(KvCache& cache, at::Device device) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(17);
  auto draw = [&](int64_t heads, int64_t T) {
    return at::randn({kBatch, heads, T, kHeadDim}, gen, at::kFloat).to(device);
  };
  Run r;
  Seen seen;
  for (int64_t step = 0; step <= kDecode + 1; ++step) {
    const int64_t T = step == 0 ? kPrefill : 1;
    if (step == kDecode + 1) cache.set_observer(&seen);
    cache.begin_step(at::ones({kBatch, T}, at::TensorOptions().dtype(at::kBool).device(device)));
    for (int64_t l = 0; l < kLayers; ++l) {
      const at::Tensor q = draw(kQHeads, T), k = draw(kKvHeads, T), v = draw(kKvHeads, T);
      const at::Tensor out = cache.attend(l, q, k, v);
      CHECK(out.device() == q.device());
      r.outputs.push_back(out.to(at::kCPU));
    }
  }
  cache.set_observer(nullptr);
  r.keys = seen.keys;
  r.values = seen.values;
  r.true_bytes = cache.true_bytes();
  return r;
}

void check_same(const Run& cpu, const Run& gpu) {
  REQUIRE(gpu.outputs.size() == cpu.outputs.size());
  double worst = 0;
  for (size_t i = 0; i < cpu.outputs.size(); ++i)
    worst = std::max(worst, (gpu.outputs[i] - cpu.outputs[i]).abs().max().item<double>());
  INFO("largest output difference " << worst);
  CHECK(worst < kOutTol);
  REQUIRE(gpu.keys.size() == static_cast<size_t>(kLayers));
  REQUIRE(cpu.keys.size() == static_cast<size_t>(kLayers));
  for (int64_t l = 0; l < kLayers; ++l) {
    INFO("layer " << l);
    // the kernels are bit-exact across devices: equal inputs give equal codes and scales
    CHECK(gpu.keys[static_cast<size_t>(l)].equal(cpu.keys[static_cast<size_t>(l)]));
    CHECK(gpu.values[static_cast<size_t>(l)].equal(cpu.values[static_cast<size_t>(l)]));
  }
  CHECK(gpu.true_bytes == cpu.true_bytes);
}

}  // namespace

TEST_CASE("the packed cache on CUDA stores the CPU's codes", "[cache][cuda]") {
  if (test::skip_without_cuda_device()) return;
  const auto scheme = GENERATE(Scheme::kKivi, Scheme::kPerToken);
  const auto pair = GENERATE(KvPair{4, 2}, KvPair{2, 4}, KvPair{8, 8});
  INFO(scheme_name(scheme) << " " << pair_name(pair));
  const auto formats = uniform_layers(scheme, pair, kLayers);
  PackedKvCache cpu_cache(shape(), formats), gpu_cache(shape(), formats);
  const Run cpu = run(cpu_cache, at::Device(at::kCPU));
  const Run gpu = run(gpu_cache, at::Device(at::kCUDA));
  check_same(cpu, gpu);
  CHECK(gpu_cache.buffer_bytes() == cpu_cache.buffer_bytes());
}

TEST_CASE("the fake-quant cache on CUDA stores the CPU's numbers", "[cache][cuda]") {
  if (test::skip_without_cuda_device()) return;
  const auto scheme = GENERATE(Scheme::kKivi, Scheme::kPerToken);
  const auto pair = GENERATE(KvPair{4, 2}, KvPair{8, 8});
  INFO(scheme_name(scheme) << " " << pair_name(pair));
  const auto formats = uniform_layers(scheme, pair, kLayers);
  FakeQuantKvCache cpu_cache(shape(), formats), gpu_cache(shape(), formats);
  check_same(run(cpu_cache, at::Device(at::kCPU)), run(gpu_cache, at::Device(at::kCUDA)));
}
