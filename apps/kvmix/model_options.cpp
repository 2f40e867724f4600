#include "apps/kvmix/model_options.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

#include "apps/kvmix/value_checks.h"
#include "lib/process/cpu_threads.h"
#include "base/error.h"
#include "lib/io/paths.h"
#include "models/loader.h"

namespace kvmix::app {

namespace {

// kvmix runs models on the CPU, where libtorch implements no fp16 matrix multiply ("addmm_impl_cpu_"
// not implemented for 'Half'): refused while parsing, not after the model has loaded.
CLI::Validator cpu_dtype() {
  return CLI::Validator(
      [](std::string& s) {
        return s == "fp16" ? std::string("fp16 is not supported on the CPU, where kvmix runs models "
                                         "(libtorch has no fp16 matrix multiply there); use bf16, "
                                         "which takes the same memory, or fp32")
                           : std::string();
      },
      "", "cpu_dtype");
}

std::string model_dir(const ModelOptions& o) { return o.model == "builtin" ? builtin_model_dir() : o.model; }

}  // namespace

void add_model_options(CLI::App* app, ModelOptions& o) {
  app->add_option("-m,--model", o.model, "Model: 'builtin' or a Hugging Face checkpoint folder")
      ->check(non_empty())
      ->capture_default_str();
  app->add_option("--dtype", o.dtype, "Compute dtype: fp32 or bf16 (fp16: not on the CPU)")
      ->check(CLI::IsMember({"fp32", "bf16", "fp16"}))
      ->check(cpu_dtype())
      ->capture_default_str();
  app->add_option("--threads", o.threads,
                  fmt::format("CPU threads (0: all cores; at most {})", max_threads()))
      ->check(thread_count())
      ->capture_default_str();
}

Model load_model_only(const ModelOptions& o) {
  // The command line refuses both already; this guards code that fills ModelOptions itself.
  if (o.threads < 0 || o.threads > max_threads())
    throw UsageError(fmt::format("--threads {} is outside [0, {}]", o.threads, max_threads()));
  if (o.dtype == "fp16") throw UsageError("--dtype fp16 is not supported on the CPU; use bf16");
  // libtorch's own default is the physical core count (1 on a 2-vCPU machine), not "all cores".
  const unsigned hw = std::thread::hardware_concurrency();
  set_cpu_threads(o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, hw)));
  const std::string dir = model_dir(o);
  const at::ScalarType dtype = o.dtype == "bf16"   ? at::kBFloat16
                               : o.dtype == "fp16" ? at::kHalf
                                                   : at::kFloat;
  LoadedModel lm = load_model(dir, dtype);
  spdlog::info("model {}: {} layers, {} KV heads x {} dims, {}", dir, lm.config.num_layers,
               lm.config.num_kv_heads, lm.config.head_dim, o.dtype);
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
