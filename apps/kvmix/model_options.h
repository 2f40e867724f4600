#pragma once
// Flags every model-running subcommand shares: which model, which compute dtype, threads.
#include <CLI/CLI.hpp>

#include <string>

#include "lib/tokenizer.h"
#include "models/model.h"

namespace kvmix::app {

struct ModelOptions {
  std::string model = "builtin";  // "builtin" or a Hugging Face checkpoint folder
  std::string dtype = "fp32";     // compute dtype: fp32, bf16, fp16
  int threads = 0;                // 0: libtorch's default
};

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
