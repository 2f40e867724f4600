// The profile and the task evaluation with the model on a CUDA device, against the same runs on
// the CPU: the same figures within rounding. Keys and values computed on the two devices differ in
// their last bits, so a value at a rounding boundary of the quantization grid can land on the
// other code: quantized figures are compared with a relative tolerance, full-precision ones
// tightly. Skipped (and reported so by ctest) without a GPU.
#include <catch2/catch.hpp>

#include <cmath>

#include "lib/cache/make_kv_cache.h"
#include "lib/io/paths.h"
#include "models/loader.h"
#include "models/model_kv_shape.h"
#include "search/profile.h"
#include "search/task_eval.h"
#include "tests/cuda_device.h"
#include "tests/models/random_model.h"
#include "tests/search/byte_model.h"

using namespace kvmix;

namespace {

// A lossless pair replays the same computation on either device (DESIGN.md, "Data flow": the
// profile re-runs layers l.. with layer l's prompt K/V as stored).
constexpr double kLosslessMax = 1e-6;
// Means over a few hundred values of errors that one flipped code moves by a fraction of a
// percent; a wrong device path (a cache on the wrong tensor, a lost mask) changes them entirely.
constexpr double kQuantizedRelTol = 0.05;
// Teacher-forced NLL in nats per token, fp32 on both devices: summation-order rounding only.
constexpr double kNllTol = 1e-3;

bool close(double gpu, double cpu, double rel, double abs = 1e-9) {
  return std::abs(gpu - cpu) <= rel * std::abs(cpu) + abs;
}

Model builtin_on(at::Device device) {
  LoadedModel lm = load_model(builtin_model_dir(), at::kFloat, device);
  return Model{std::move(lm.config), std::move(lm.weights), "builtin"};
}

}  // namespace

TEST_CASE("the profile on CUDA measures what it measures on the CPU", "[search][profile][cuda]") {
  if (test::skip_without_cuda_device()) return;
  const Model cpu = test::random_model(test::byte_model_config());
  const Model gpu = test::on_device(cpu, at::Device(at::kCUDA));
  ProfileOptions po;
  po.scheme = Scheme::kKivi;
  po.pairs = {parse_pair("KV16"), parse_pair("KV4")};
  po.tasks = {parse_task("arith", Split::kCalibration, 3)};
  po.batch = 2;
  po.max_continuation = 8;
  po.progress = false;
  const Sensitivity a = run_profile(cpu, test::byte_tokenizer(), po);
  const Sensitivity b = run_profile(gpu, test::byte_tokenizer(), po);
  REQUIRE(b.cells.size() == a.cells.size());
  for (size_t l = 0; l < a.cells.size(); ++l) {
    INFO("layer " << l);
    for (ErrorMetric m : {ErrorMetric::kKRelErr, ErrorMetric::kVRelErr, ErrorMetric::kAttnTv,
                          ErrorMetric::kOutRelErr, ErrorMetric::kKl}) {
      INFO(error_metric_name(m));
      CHECK(cell_error(b.cells[l][0], m) <= kLosslessMax);
      CHECK(close(cell_error(b.cells[l][1], m), cell_error(a.cells[l][1], m), kQuantizedRelTol));
    }
    CHECK(b.cells[l][1].bytes_per_token == a.cells[l][1].bytes_per_token);
  }
}

TEST_CASE("task evaluation on CUDA scores what it scores on the CPU", "[search][task_eval][cuda]") {
  if (test::skip_without_cuda_device()) return;
  const Model cpu = builtin_on(at::Device(at::kCPU));
  const Model gpu = builtin_on(at::Device(at::kCUDA));
  const Tokenizer tok = Tokenizer::from_file(builtin_model_dir() + "/tokenizer.json");
  const TaskData data = prepare_task(parse_task("arith", Split::kHeldOut, 8), tok);
  const KvShape shape = kv_shape(cpu.config);
  const auto formats = uniform_layers(Scheme::kKivi, parse_pair("KV4"), shape.layers);
  EvalOptions opt;
  opt.batch = 4;
  opt.progress = false;

  auto score = [&](const Model& m, CacheKind kind, const ReferenceLogprobs* ref,
                   ReferenceLogprobs* out) {
    const CacheFactory factory = [&] { return make_kv_cache(kind, shape, formats); };
    return evaluate_task(m, tok, data, factory, opt, ref, out);
  };
  ReferenceLogprobs cpu_ref, gpu_ref;
  const TaskScore a0 = score(cpu, CacheKind::kFull, nullptr, &cpu_ref);
  const TaskScore b0 = score(gpu, CacheKind::kFull, nullptr, &gpu_ref);
  REQUIRE(!gpu_ref.logprobs.empty());
  CHECK(gpu_ref.logprobs.front().device().is_cuda());
  CHECK(close(b0.nll, a0.nll, 0.0, kNllTol));
  CHECK(b0.tokens_held == a0.tokens_held);
  CHECK(b0.true_bytes == a0.true_bytes);
  // Greedy answers of a trained model: one answer may flip on a near-tie, not more.
  CHECK(std::abs(b0.score - a0.score) <= 1.0 / 8 + 1e-12);

  for (CacheKind kind : {CacheKind::kFakeQuant, CacheKind::kPacked}) {
    INFO(cache_kind_name(kind));
    const TaskScore a = score(cpu, kind, &cpu_ref, nullptr);
    const TaskScore b = score(gpu, kind, &gpu_ref, nullptr);
    CHECK(close(b.nll, a.nll, kQuantizedRelTol, kNllTol));
    CHECK(close(b.kl, a.kl, kQuantizedRelTol, 1e-6));
    CHECK(b.true_bytes == a.true_bytes);
    CHECK(std::abs(b.score - a.score) <= 1.0 / 8 + 1e-12);
  }
}
