// `kvmix tasks`: the samples of evaluation tasks as token ids (JSON), exactly as `kvmix eval`
// builds them for a model's tokenizer. For scoring the same samples in another engine (llama.cpp,
// transformers with a quantized cache) and putting its scores beside kvmix's.
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "apps/kvmix/command.h"
#include "apps/kvmix/model_options.h"
#include "apps/kvmix/option_checks.h"
#include "base/error.h"
#include "lib/io/atomic_file.h"
#include "search/task_data.h"

namespace kvmix::app {
namespace {

struct TasksOptions {
  ModelOptions model;
  std::vector<std::string> tasks = {"text", "arith", "recall"};
  std::string split = "heldout";
  int64_t samples = 64;
  std::string out;  // empty: stdout
};

int run_tasks(const TasksOptions& o) {
  const Split split = parse_split(o.split);
  std::vector<TaskSpec> specs;
  std::vector<std::string> inputs;
  for (const auto& t : required_list(o.tasks, "--tasks")) {
    specs.push_back(parse_task(t, split, o.samples));
    if (!specs.back().data_path.empty()) inputs.push_back(specs.back().data_path);
  }
  if (!o.out.empty()) refuse_output_over_inputs(o.out, "--out", inputs);
  const LoadedRuntime rt = load_runtime(o.model);
  nlohmann::json tasks = nlohmann::json::array();
  for (const auto& spec : specs) {
    const TaskData d = prepare_task(spec, rt.tokenizer);
    nlohmann::json samples = nlohmann::json::array();
    for (size_t i = 0; i < d.prompts.size(); ++i) {
      nlohmann::json s = {{"prompt", d.prompts[i]}, {"continuation", d.continuations[i]}};
      if (d.generative) s["answer"] = d.answers[i];
      samples.push_back(std::move(s));
    }
    nlohmann::json t = {{"name", d.name}, {"generative", d.generative}, {"samples", samples}};
    if (d.generative) {
      // How `kvmix eval` scores: greedy generation of at most max_new_tokens, stopped at the end
      // of sequence ids or a newline, the decoded text compared with the answer by `scoring`.
      t["scoring"] = scoring_name(d.scoring);
      t["max_new_tokens"] = d.max_new_tokens;
      t["stop_ids"] = rt.tokenizer.eos_ids();
    } else {
      // Perplexity: exp of the mean negative log-likelihood over every continuation token of
      // every sample, each continuation teacher-forced after its prompt.
      t["metric"] = "perplexity";
    }
    tasks.push_back(std::move(t));
  }
  const nlohmann::json j = {{"schema", "kvmix.tasks"}, {"version", 1}, {"model", o.model.model},
                            {"split", o.split},        {"tasks", tasks}};
  const std::string text = j.dump() + "\n";
  if (o.out.empty()) {
    std::fputs(text.c_str(), stdout);
  } else {
    write_file_atomic(o.out, text);
    spdlog::info("wrote {}", o.out);
  }
  return 0;
}

Command setup_tasks(CLI::App& parent) {
  auto o = std::make_shared<TasksOptions>();
  auto* sub = parent.add_subcommand(
      "tasks", "Write evaluation samples as token ids (JSON), to score them in another engine");
  add_model_options(sub, o->model);
  sub->add_option("-t,--tasks", o->tasks, "Tasks: text, arith, recall, or FILE.txt / FILE.jsonl")
      ->delimiter(',')->check(non_empty())->check(task_name())->capture_default_str();
  sub->add_option("--split", o->split, "heldout (default), calib or train")
      ->check(parsed_by([](const std::string& s) { parse_split(s); }, "SPLIT"))
      ->capture_default_str();
  sub->add_option("-n,--samples", o->samples, "Samples (problems, or text windows) per task")
      ->check(positive_int())->capture_default_str();
  sub->add_option("-o,--out", o->out, "Write the JSON (schema kvmix.tasks) here instead of stdout")
      ->check(output_file());
  return {sub, [o] { return run_tasks(*o); }};
}

}  // namespace
KVMIX_REGISTER_COMMAND(setup_tasks);
}  // namespace kvmix::app
