#pragma once
// Flags every model-running subcommand shares: which model, which device and compute dtype,
// threads.
#include <CLI/CLI.hpp>

#include <string>

#include "lib/tokenizer/tokenizer.h"
#include "models/model.h"

namespace kvmix::app {

struct ModelOptions {
  std::string model = "builtin";  // "builtin" or a Hugging Face checkpoint folder
  std::string device = "cpu";     // cpu, cuda or cuda:N (models/device.h)
  // Compute dtype: fp32, bf16 or fp16 (fp16 has no CPU matmul: refused there). Empty: the
  // device's default (fp32 on the CPU, bf16 on CUDA), filled in by resolve_model_options.
  std::string dtype;
  int threads = 0;                // 0: every core; at most max_threads() (value_checks.h)
};

// Checks the device (it parses and is usable by this process) and the dtype against it, and fills
// in the device's default dtype when none was given. Throws UsageError naming the flag.
void resolve_model_options(ModelOptions& o);

// Declares -m/--model, --device, --dtype and --threads with their checks: thread counts outside
// [0, max_threads()], an unknown or unusable device (no CUDA in this libtorch, no GPU visible, an
// index past the device count) and fp16 on the CPU are CLI11 validation errors (exit status 2),
// raised while the command line is parsed, before any work starts.
void add_model_options(CLI::App* app, ModelOptions& o);

struct LoadedRuntime {
  Model model;
  Tokenizer tokenizer;
};

// Loads the model and its tokenizer.json; errors name the folder and file.
LoadedRuntime load_runtime(const ModelOptions& o);
// The model alone (no tokenizer.json needed), with the thread count applied as load_runtime does.
Model load_model_only(const ModelOptions& o);

// Splits "a,b,c" (CLI11 already splits repeated flags; this handles commas inside one value).
std::vector<std::string> split_list(const std::vector<std::string>& items);

}  // namespace kvmix::app
