// `kvmix eval`: scores KV configs (uniform pairs under the kivi and per-token schemes, or per-layer
// config files) on held-out tasks: task score, KL against full precision, true bytes per token.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "apps/kvmix/command.h"
#include "lib/process/team.h"
#include "search/team_work.h"
#include "apps/kvmix/model_options.h"
#include "apps/kvmix/option_checks.h"
#include "lib/io/atomic_file.h"
#include "base/error.h"
#include "search/eval_run.h"

namespace kvmix::app {
namespace {

struct EvalOptions {
  ModelOptions model;
  std::vector<std::string> tasks = {"text", "arith", "recall"};
  std::vector<std::string> pairs = {"KV8", "K8V4", "KV4", "K4V2", "KV2", "K2V4"};
  std::vector<std::string> schemes = {"kivi", "per-token"};
  std::vector<std::string> configs;  // per-layer config files
  std::string split = "heldout";
  bool allow_calibration = false;
  int64_t samples = 64;
  std::string cache = "packed";
  int64_t batch = 16;
  int64_t decode_chunk = 1;
  uint64_t seed = 0;
  std::string out;
  std::string samples_out;
};

// One evaluate_task's per-sample results, in the order run_eval calls it (one per result row).
struct ScoredTask {
  std::string task;
  std::vector<double> kl;
  std::vector<uint8_t> correct;
  std::vector<std::string> generated;
};

// The per-sample file: each task's samples as token ids (so that another implementation, e.g. the
// Hugging Face cache in python/kvmix_hf, runs exactly these), and each (config, task)'s per-sample
// KL against full precision, answers and their scores. NaN KL (no continuation, or the fp16
// reference itself) is written as null.
nlohmann::json samples_json(const nlohmann::json& results, const std::vector<TaskData>& tasks,
                            const std::vector<ScoredTask>& scored, const EvalOptions& o) {
  using nlohmann::json;
  const auto& rows = results.at("results");
  KVMIX_ASSERT(rows.size() == scored.size(), "{} result rows, {} scored tasks", rows.size(),
               scored.size());
  json jt = json::array(), jr = json::array();
  for (const auto& d : tasks)
    jt.push_back({{"name", d.name},
                  {"generative", d.generative},
                  {"scoring", scoring_name(d.scoring)},
                  {"max_new_tokens", d.max_new_tokens},
                  {"prompts", d.prompts},
                  {"continuations", d.continuations},
                  {"answers", d.answers}});
  for (size_t i = 0; i < rows.size(); ++i) {
    KVMIX_ASSERT(rows[i].at("task") == scored[i].task, "row {} is task {}, scored {}", i,
                 rows[i].at("task").dump(), scored[i].task);
    json kl = json::array();
    for (double k : scored[i].kl) kl.push_back(std::isnan(k) ? json(nullptr) : json(k));
    jr.push_back({{"config", rows[i].at("config")},
                  {"task", scored[i].task},
                  {"kl", kl},
                  {"correct", scored[i].correct},
                  {"generated", scored[i].generated}});
  }
  return json{{"schema", "kvmix.eval_samples"},
              {"version", 1},
              {"producer", results.at("producer")},
              {"model", results.at("model")},
              {"cache", o.cache},
              {"batch", o.batch},
              {"decode_chunk", o.decode_chunk},
              {"seed", o.seed},
              {"tasks", jt},
              {"results", jr}};
}

int run_eval_command(const EvalOptions& o) {
  const Split split = parse_split(o.split);
  if (split == Split::kCalibration && !o.allow_calibration)
    throw UsageError(
        "refusing to evaluate on the calibration split: scores there say nothing about held-out "
        "quality. Pass --allow-calibration-split if that is what you intend.");
  if (split == Split::kTrain) throw UsageError("the training split is not an evaluation split");

  // Every option is checked before the model loads: a bad value fails in a second, not after.
  std::vector<Scheme> schemes;
  for (const auto& s : required_list(o.schemes, "--schemes")) schemes.push_back(parse_scheme(s));
  std::vector<KvPair> pairs;
  for (const auto& p : required_list(o.pairs, "--pairs")) pairs.push_back(parse_pair(p));
  EvalRunOptions ro;
  std::vector<std::string> inputs = o.configs;
  for (const auto& t : required_list(o.tasks, "--tasks")) {
    ro.tasks.push_back(parse_task(t, split, o.samples));
    if (!ro.tasks.back().data_path.empty()) inputs.push_back(ro.tasks.back().data_path);
  }
  if (!o.out.empty()) refuse_output_over_inputs(o.out, "--out", inputs);
  if (!o.samples_out.empty()) refuse_output_over_inputs(o.samples_out, "--samples-out", inputs);
  if (!o.out.empty() && o.out == o.samples_out)
    throw UsageError("--out and --samples-out name the same file " + o.out);

  auto rt = load_runtime(o.model);
  if (team().rank > 0) return serve_team(rt.model, rt.tokenizer);
  if (o.configs.empty())
    for (Scheme s : schemes) check_scheme_fits(s, rt.model.config.head_dim);
  auto configs = o.configs.empty() ? uniform_eval_configs(schemes, pairs, rt.model.config.num_layers)
                                   : std::vector<EvalConfig>{};
  for (const auto& f : o.configs) configs.push_back(eval_config_from_file(f, kv_shape(rt.model.config)));

  ro.cache = parse_cache_kind(o.cache);
  ro.eval.batch = o.batch;
  ro.eval.decode_chunk = o.decode_chunk;
  ro.seed = o.seed;
  std::vector<TaskData> tasks;  // each task once, as first scored
  std::vector<ScoredTask> scored;
  if (!o.samples_out.empty())
    ro.eval.on_scored = [&](const TaskData& d, const TaskScore& s) {
      if (std::none_of(tasks.begin(), tasks.end(), [&](const TaskData& t) { return t.name == d.name; }))
        tasks.push_back(d);
      scored.push_back({s.task, s.sample_kl, s.correct, s.generated});
    };
  const auto results = run_eval(rt.model, rt.tokenizer, configs, ro);
  if (!o.samples_out.empty()) {
    write_file_atomic(o.samples_out, samples_json(results, tasks, scored, o).dump(1) + "\n");
    spdlog::info("wrote {}", o.samples_out);
  }
  if (!o.out.empty()) {
    write_file_atomic(o.out, results.dump(2) + "\n");
    spdlog::info("wrote {}", o.out);
  }
  std::fputs(eval_table(results).c_str(), stdout);
  return 0;
}

Command setup_eval(CLI::App& parent) {
  auto o = std::make_shared<EvalOptions>();
  auto* sub = parent.add_subcommand("eval", "Score KV configs on held-out tasks");
  add_model_options(sub, o->model);
  sub->add_option("-t,--tasks", o->tasks, "Tasks: text, arith, recall, or FILE.txt / FILE.jsonl")
      ->delimiter(',')->check(non_empty())->check(task_name())->capture_default_str();
  sub->add_option("-p,--pairs", o->pairs, "Uniform KV pairs (K4V2, KV8, ...)")
      ->delimiter(',')->check(non_empty())
      ->check(parsed_by([](const std::string& s) { parse_pair(s); }, "PAIR"))
      ->capture_default_str();
  sub->add_option("-s,--schemes", o->schemes, "Schemes for the pairs: kivi, per-token")
      ->delimiter(',')->check(non_empty())
      ->check(parsed_by([](const std::string& s) { parse_scheme(s); }, "SCHEME"))
      ->capture_default_str();
  sub->add_option("-c,--config", o->configs, "Per-layer kvmix config file(s) instead of pairs")
      ->check(CLI::ExistingFile);
  sub->add_option("--split", o->split, "heldout (default) or calib")
      ->check(parsed_by([](const std::string& s) { parse_split(s); }, "SPLIT"))
      ->capture_default_str();
  sub->add_flag("--allow-calibration-split", o->allow_calibration,
                "Allow --split calib (scores on calibration data are not held-out quality)");
  sub->add_option("-n,--samples", o->samples, "Samples (problems, or text windows) per task")
      ->check(positive_int())->capture_default_str();
  sub->add_option("--cache", o->cache, "KV cache: packed (kvmix's runtime) or fake (fake-quant)")
      ->check(parsed_by([](const std::string& s) { parse_cache_kind(s); }, "CACHE"))
      ->capture_default_str();
  sub->add_option("--batch", o->batch, "Sequences per batch")
      ->check(positive_int())->capture_default_str();
  sub->add_option("--decode-chunk", o->decode_chunk,
                  "Continuation tokens per step when scoring (1: exact decode semantics)")
      ->check(positive_int())->capture_default_str();
  sub->add_option("--seed", o->seed, "Seed (recorded; sampling only)")->capture_default_str();
  sub->add_option("-o,--out", o->out, "Write the results JSON here")->check(output_file());
  sub->add_option("--samples-out", o->samples_out,
                  "Write per-sample results here (JSON): each task's token ids, and per config "
                  "and task the KL of each sample, its answer and score")
      ->check(output_file());
  return {sub, [o] { return run_eval_command(*o); }, /*team=*/true};
}

}  // namespace
KVMIX_REGISTER_COMMAND(setup_eval);
}  // namespace kvmix::app
