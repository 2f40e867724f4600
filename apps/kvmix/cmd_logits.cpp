// `kvmix logits`: the next-token logits of a model at every position of one token sequence,
// computed by the plain causal forward (no KV cache, the oracle the cache tests compare to). For
// checking kvmix against another implementation of the same checkpoint (llama.cpp, transformers,
// a serving engine): scripts/compare_llamacpp.sh is one such check.
#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "apps/kvmix/command.h"
#include "apps/kvmix/model_options.h"
#include "apps/kvmix/option_checks.h"
#include "lib/io/atomic_file.h"
#include "base/error.h"
#include "models/device.h"
#include "models/llama_forward.h"

namespace kvmix::app {
namespace {

struct LogitsOptions {
  ModelOptions model;
  std::vector<int64_t> tokens;  // token ids, or
  std::string text;             // text for the model's tokenizer.json (special tokens added)
  std::string out;              // JSON file (written atomically); empty: stdout
};

int run_logits(const LogitsOptions& o) {
  if (o.tokens.empty() == o.text.empty()) throw UsageError("give exactly one of --tokens and --text");
  std::vector<int64_t> ids = o.tokens;
  Model m;
  if (!o.text.empty()) {
    LoadedRuntime rt = load_runtime(o.model);
    ids = rt.tokenizer.encode(o.text, true);
    m = std::move(rt.model);
  } else {
    m = load_model_only(o.model);
  }
  if (ids.empty()) throw UsageError("the text encodes to no tokens");
  for (int64_t id : ids)
    if (id < 0 || id >= m.config.vocab_size)
      throw UsageError("token id " + std::to_string(id) + " is outside the model's vocabulary of " +
                       std::to_string(m.config.vocab_size));
  const at::Tensor tokens = at::tensor(ids, at::kLong).view({1, -1});
  // [T, V] fp32, brought to the host to be read through a raw pointer
  const at::Tensor logits =
      forward(m, tokens, at::Tensor(), nullptr).squeeze(0).to(at::kCPU).contiguous();
  const int64_t T = logits.size(0), V = logits.size(1);
  const float* p = logits.data_ptr<float>();
  nlohmann::json rows = nlohmann::json::array();
  for (int64_t t = 0; t < T; ++t) rows.push_back(std::vector<float>(p + t * V, p + (t + 1) * V));
  const nlohmann::json j = {{"schema", "kvmix.logits"}, {"version", 1},   {"model", o.model.model},
                            {"dtype", o.model.dtype},   {"device", device_name(model_device(m))},
                            {"tokens", ids},            {"logits", rows}};
  const std::string text = j.dump() + "\n";
  if (o.out.empty()) {
    std::fputs(text.c_str(), stdout);
  } else {
    write_file_atomic(o.out, text);
  }
  return 0;
}

Command setup_logits(CLI::App& parent) {
  auto o = std::make_shared<LogitsOptions>();
  auto* sub = parent.add_subcommand(
      "logits", "Next-token logits at every position of one sequence (JSON), to check kvmix against another implementation");
  add_model_options(sub, o->model);
  // An empty --tokens would otherwise convert to the single id 0.
  auto* tokens = sub->add_option("--tokens", o->tokens, "Token ids, comma-separated")
                     ->delimiter(',')->check(non_empty())
                     ->check(CLI::Range(int64_t{0}, int64_t{INT32_MAX}));
  sub->add_option("--text", o->text, "Text, encoded with the model's tokenizer.json (special tokens added)")
      ->check(non_empty())->excludes(tokens);
  sub->add_option("-o,--out", o->out, "Write the JSON (schema kvmix.logits) here instead of stdout")
      ->check(output_file());
  return {sub, [o] { return run_logits(*o); }};
}

}  // namespace
KVMIX_REGISTER_COMMAND(setup_logits);
}  // namespace kvmix::app
