#pragma once
// Flags every model-running subcommand shares: which model, which compute dtype, threads.
#include <CLI/CLI.hpp>

#include <string>

#include "lib/tokenizer/tokenizer.h"
#include "models/model.h"

namespace kvmix::app {

struct ModelOptions {
  std::string model = "builtin";  // "builtin" or a Hugging Face checkpoint folder
  std::string dtype = "fp32";     // compute dtype: fp32 or bf16 (fp16 has no CPU matmul: refused)
  int threads = 0;                // 0: every core; at most max_threads() (value_checks.h)
};

// Declares -m/--model, --dtype and --threads with their checks: fp16 and thread counts outside
// [0, max_threads()] are CLI11 validation errors (exit status 2).
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
