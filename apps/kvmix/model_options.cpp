#include "apps/kvmix/model_options.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

#include "apps/kvmix/value_checks.h"
#include "lib/process/cpu_threads.h"
#include "lib/process/team.h"
#include "base/error.h"
#include "lib/io/paths.h"
#include "models/device.h"
#include "models/loader.h"

namespace kvmix::app {

namespace {

// The --dtype spelling of a compute dtype.
std::string dtype_option_name(at::ScalarType t) {
  switch (t) {
    case at::kBFloat16: return "bf16";
    case at::kHalf: return "fp16";
    default: return "fp32";
  }
}

std::string model_dir(const ModelOptions& o) { return o.model == "builtin" ? builtin_model_dir() : o.model; }

}  // namespace

void resolve_model_options(ModelOptions& o) {
  const at::Device device = usable_device(o.device);
  if (o.dtype.empty()) o.dtype = dtype_option_name(default_compute_dtype(device));
  if (o.dtype != "fp32" && o.dtype != "bf16" && o.dtype != "fp16")
    throw UsageError(fmt::format("--dtype {}: expected fp32, bf16 or fp16", o.dtype));
  // libtorch implements no fp16 matrix multiply on the CPU ("addmm_impl_cpu_" not implemented for
  // 'Half'): refused before the model loads, not after. CUDA has one.
  if (o.dtype == "fp16" && device.is_cpu())
    throw UsageError(
        "--dtype fp16 is not supported on the CPU (libtorch has no fp16 matrix multiply there); "
        "use bf16, which takes the same memory, or fp32, or run on a GPU with --device cuda");
}

void add_model_options(CLI::App* app, ModelOptions& o) {
  app->add_option("-m,--model", o.model, "Model: 'builtin' or a Hugging Face checkpoint folder")
      ->check(non_empty())
      ->capture_default_str();
  app->add_option("--device", o.device,
                  "Device: cpu, cuda or cuda:N (cuda needs a libtorch with CUDA and a visible GPU)")
      ->capture_default_str();
  app->add_option("--dtype", o.dtype,
                  "Compute dtype: fp32, bf16 or fp16 (default: fp32 on cpu, bf16 on cuda; fp16 on "
                  "cuda only)")
      ->check(CLI::IsMember({"fp32", "bf16", "fp16"}));
  app->add_option("--threads", o.threads,
                  fmt::format("CPU threads (0: every core; at most {})", max_threads()))
      ->check(thread_count())
      ->capture_default_str();
  // The device and the dtype are checked together once both are parsed, whatever their order on
  // the command line; a failure is a CLI11 validation error (exit status 2) before any work.
  app->final_callback([&o] {
    try {
      resolve_model_options(o);
    } catch (const UsageError& e) {
      throw CLI::ValidationError(e.what());
    }
  });
}

Model load_model_only(const ModelOptions& given) {
  // The command line refuses all of these already; this guards code that fills ModelOptions itself.
  if (given.threads < 0 || given.threads > max_threads())
    throw UsageError(fmt::format("--threads {} is outside [0, {}]", given.threads, max_threads()));
  ModelOptions o = given;
  // The ranks of an MPI job on one node take one GPU each, in turn, when --device names no index.
  if (team().size > 1 && o.device == "cuda") {
    const CudaRuntime cuda = cuda_runtime();
    if (cuda.devices > 0) o.device = fmt::format("cuda:{}", team().local_rank % cuda.devices);
  }
  resolve_model_options(o);
  // libtorch's own default is the physical core count (1 on a 2-vCPU machine), not "all cores";
  // the ranks of an MPI job on one node share the cores.
  const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  const int share = std::max(1, static_cast<int>(hw) / team().local_size);
  set_cpu_threads(o.threads > 0 ? o.threads : share);
  const std::string dir = model_dir(o);
  const at::ScalarType dtype = o.dtype == "bf16"   ? at::kBFloat16
                               : o.dtype == "fp16" ? at::kHalf
                                                   : at::kFloat;
  LoadedModel lm = load_model(dir, dtype, parse_device(o.device));
  spdlog::info("model {}: {} layers, {} KV heads x {} dims, {} on {}", dir, lm.config.num_layers,
               lm.config.num_kv_heads, lm.config.head_dim, o.dtype, o.device);
  // The model is recorded as the user named it ('builtin' or the folder given): reports and
  // configs travel between machines, where an absolute path means nothing.
  return Model{std::move(lm.config), std::move(lm.weights), o.model};
}

LoadedRuntime load_runtime(const ModelOptions& o) {
  Model m = load_model_only(o);
  return LoadedRuntime{std::move(m), Tokenizer::from_file(model_dir(o) + "/tokenizer.json")};
}

std::vector<std::string> split_list(const std::vector<std::string>& items) {
  std::vector<std::string> out;
  for (const auto& it : items) {
    size_t s = 0;
    while (s <= it.size()) {
      const size_t e = it.find(',', s);
      const std::string part = it.substr(s, e == std::string::npos ? std::string::npos : e - s);
      if (!part.empty()) out.push_back(part);
      if (e == std::string::npos) break;
      s = e + 1;
    }
  }
  return out;
}

}  // namespace kvmix::app
