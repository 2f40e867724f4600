// The built-in model on a CUDA device against the same model on the CPU: loaded straight to the
// device in the compute dtype, the same logits within the rounding of each dtype, generation and
// the full-precision cache on the device. Skipped (and reported so by ctest) without a GPU.
#include <catch2/catch.hpp>

#include <cmath>

#include "lib/cache/full_kv_cache.h"
#include "lib/io/paths.h"
#include "models/device.h"
#include "models/generate.h"
#include "models/llama_forward.h"
#include "models/loader.h"
#include "tests/cuda_device.h"
#include "tests/models/random_model.h"

using namespace kvmix;

namespace {

// fp32 on both sides (libtorch keeps TF32 off for matmuls by default): the same products summed
// in other orders by other kernels, a few ulps (1e-7 relative) per dot product, grown over 8
// layers on logits of order 10. On the CPU the built-in model's prefill and its token-by-token
// decode, which also sum differently, agree to 3e-5; a wrong tensor, mask or position
// moves logits by 1e-1 or more.
constexpr double kFp32LogitTol = 1e-3;
// bf16 keeps 8 significant bits: every op's output is rounded to 2^-9 relative, which moves the
// logits far more than the summation order does. CUDA's bf16 logits must be no further from the
// fp32 reference, in RMS, than kBf16Slack times the CPU's bf16 logits are: both pay the same
// roundings, in other orders. (On the CPU the built-in model's bf16 prefill is 0.072 RMS from
// fp32 on the prompt below, and its bf16 token-by-token decode, summed in other orders, 0.072 too.)
constexpr double kBf16Slack = 3.0;

const std::string& builtin() {
  static const std::string dir = builtin_model_dir();
  return dir;
}

Model load(at::ScalarType dtype, at::Device device) {
  LoadedModel lm = load_model(builtin(), dtype, device);
  return Model{std::move(lm.config), std::move(lm.weights), "builtin"};
}

// Bytes of an arith-like prompt in the built-in model's byte-level vocabulary.
at::Tensor prompt_tokens() {
  const std::string text = "Q: 12+30=? A: 42\nQ: 7+8=? A: 15\nQ: 21+4=? A:";
  std::vector<int64_t> ids;
  for (unsigned char ch : text) ids.push_back(ch);
  return at::tensor(ids, at::kLong).view({1, -1});
}

double rms(const at::Tensor& x) { return x.to(at::kDouble).pow(2).mean().sqrt().item<double>(); }

}  // namespace

TEST_CASE("the built-in model loads straight onto CUDA in the compute dtype",
          "[models][device][cuda]") {
  if (test::skip_without_cuda_device()) return;
  const at::Device cuda = usable_device("cuda");
  for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    INFO(c10::toString(dtype));
    const Model gpu = load(dtype, cuda);
    const Model cpu = load(dtype, at::Device(at::kCPU));
    CHECK(model_device(gpu).is_cuda());
    ModelWeights gw = gpu.weights, cw = cpu.weights;
    const auto gs = tensor_slots(gw, gpu.config), cs = tensor_slots(cw, cpu.config);
    REQUIRE(gs.size() == cs.size());
    for (size_t i = 0; i < gs.size(); ++i) {
      INFO(gs[i].name);
      CHECK(gs[i].tensor->device().is_cuda());
      CHECK(gs[i].tensor->scalar_type() == dtype);
      // the same conversion (round to nearest even) on either side: bit for bit
      CHECK(gs[i].tensor->to(at::kCPU).equal(*cs[i].tensor));
    }
  }
}

TEST_CASE("the built-in model's logits on CUDA equal the CPU's", "[models][device][cuda]") {
  if (test::skip_without_cuda_device()) return;
  const at::Device cuda = usable_device("cuda");
  const at::Tensor tokens = prompt_tokens();
  const at::Tensor ref = forward(load(at::kFloat, at::Device(at::kCPU)), tokens, {}, nullptr);

  const at::Tensor fp32 = forward(load(at::kFloat, cuda), tokens, {}, nullptr);
  CHECK(fp32.device().is_cuda());
  CHECK(fp32.scalar_type() == at::kFloat);
  CHECK((fp32.to(at::kCPU) - ref).abs().max().item<double>() < kFp32LogitTol);

  const at::Tensor cpu_bf16 =
      forward(load(at::kBFloat16, at::Device(at::kCPU)), tokens, {}, nullptr);
  const at::Tensor gpu_bf16 = forward(load(at::kBFloat16, cuda), tokens, {}, nullptr).to(at::kCPU);
  const double cpu_err = rms(cpu_bf16 - ref), gpu_err = rms(gpu_bf16 - ref);
  INFO("RMS distance to fp32: CPU bf16 " << cpu_err << ", CUDA bf16 " << gpu_err);
  CHECK(std::isfinite(gpu_err));
  CHECK(gpu_err <= kBf16Slack * cpu_err + kFp32LogitTol);
}

TEST_CASE("the full-precision cache and generation run on CUDA", "[models][device][cuda]") {
  if (test::skip_without_cuda_device()) return;
  const at::Device cuda = usable_device("cuda");
  const Model cpu = load(at::kFloat, at::Device(at::kCPU));
  const Model gpu = load(at::kFloat, cuda);
  const at::Tensor tokens = prompt_tokens();
  const int64_t T = tokens.size(1);

  // a chunked prefill and token-by-token decode through a cache on the device
  FullKvCache cache(kv_shape(gpu.config));
  std::vector<at::Tensor> steps{forward(gpu, tokens.narrow(1, 0, 9), {}, &cache)};
  for (int64_t t = 9; t < T; ++t) steps.push_back(forward(gpu, tokens.narrow(1, t, 1), {}, &cache));
  const at::Tensor decoded = at::cat(steps, 1);
  CHECK(decoded.device().is_cuda());
  CHECK(cache.tokens_seen().device().is_cuda());
  const at::Tensor ref = forward(cpu, tokens, {}, nullptr);
  CHECK((decoded.to(at::kCPU) - ref).abs().max().item<double>() < kFp32LogitTol);

  // Greedy continuations of a trained model's confident answers: the same ids on both devices.
  std::vector<int64_t> prompt(tokens.data_ptr<int64_t>(), tokens.data_ptr<int64_t>() + T);
  GenerateOptions go;
  go.max_new_tokens = 6;
  FullKvCache cpu_cache(kv_shape(cpu.config)), gpu_cache(kv_shape(gpu.config));
  const GenerateResult a = generate(cpu, {prompt, prompt}, cpu_cache, go);
  const GenerateResult b = generate(gpu, {prompt, prompt}, gpu_cache, go);
  CHECK(a.tokens == b.tokens);

  // sampling brings the rows back to the host and draws the same stream
  go.temperature = 0.8;
  go.top_k = 20;
  go.seed = 3;
  FullKvCache gpu_cache2(kv_shape(gpu.config));
  const GenerateResult c = generate(gpu, {prompt}, gpu_cache2, go);
  REQUIRE(c.tokens.size() == 1);
  CHECK(c.tokens[0].size() == 6);
  for (int64_t id : c.tokens[0]) CHECK((id >= 0 && id < gpu.config.vocab_size));
}

TEST_CASE("a random model moved to CUDA computes what it computes on the CPU",
          "[models][device][cuda]") {
  if (test::skip_without_cuda_device()) return;
  const at::Device cuda = usable_device("cuda");
  const auto cfg = test::tiny_config(true, true, 1);  // Qwen2 biases, tied embeddings, one KV head
  const Model cpu = test::random_model(cfg);
  const Model gpu = test::on_device(cpu, cuda);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(4);
  const at::Tensor tokens = at::randint(cfg.vocab_size, {2, 13}, gen, at::kLong);
  at::Tensor valid = at::ones({2, 13}, at::kBool);
  valid[1].narrow(0, 0, 4).fill_(false);  // a left-padded second sequence
  FullKvCache cpu_cache(kv_shape(cfg)), gpu_cache(kv_shape(cfg));
  const at::Tensor a = forward(cpu, tokens, valid, &cpu_cache);
  const at::Tensor b = forward(gpu, tokens, valid, &gpu_cache);
  CHECK((b.to(at::kCPU) - a).abs().max().item<double>() < kFp32LogitTol);
  CHECK(gpu_cache.true_bytes() == cpu_cache.true_bytes());
}
