// `kvmix policies`: eviction versus quantization at equal memory. Every token policy
// (lib/policies/) at several budgets (fractions of the fp16 cache, in true bytes), KIVI uniform
// baselines and optional kvmix per-layer configs, on held-out tasks; writes JSON, a Markdown table
// and a plot of score against true bytes (gnuplot, when installed). The study itself, with its
// journal, is search/policy_study.h.
#include <spdlog/spdlog.h>

#include <cstdio>

#include "apps/kvmix/command.h"
#include "apps/kvmix/stage_options.h"  // stop_on_sigint
#include "lib/process/team.h"
#include "search/team_work.h"
#include "apps/kvmix/model_options.h"
#include "apps/kvmix/option_checks.h"
#include "lib/io/atomic_file.h"
#include "lib/io/gnuplot.h"
#include "base/error.h"
#include "lib/policies/make_policy.h"
#include "lib/policies/policy_report.h"
#include "search/eval_run.h"
#include "search/policy_study.h"

namespace kvmix::app {
namespace {

struct PoliciesOptions {
  ModelOptions model;
  std::vector<std::string> tasks = {"recall", "arith", "text"};
  std::vector<std::string> policies = {"streaming", "h2o",   "snapkv",  "tova", "knorm",
                                       "mikv",      "zipvl", "kvcrush", "vidkv"};
  std::vector<double> budgets = {0.125, 0.25, 0.5};
  std::vector<std::string> kivi = {"KV2", "K4V2", "KV4"};  // KIVI uniform baselines
  std::vector<std::string> configs;                        // kvmix per-layer configs
  std::vector<std::string> fronts;                         // front.json: a config per budget
  int64_t samples = 32;
  int64_t text_samples = 0;  // text windows; 0: --samples
  int64_t batch = 16;
  uint64_t seed = 0;
  bool streaming_cache_positions = false;  // StreamingLLM at positions within the cache
  // writes OUT.json, OUT.md, OUT.dat, OUT.gp, OUT.png; OUT.journal.jsonl keeps finished runs
  std::string out = "policies";
};

int run_policies_command(const PoliciesOptions& o) {
  for (double b : o.budgets)
    KVMIX_CHECK(b > 0 && b <= 1, "--budgets: {} is not a fraction of the fp16 cache in (0, 1]", b);
  if (o.budgets.empty()) throw UsageError("--budgets: the list is empty");  // `-b ,`
  PolicyStudyOptions so;
  so.policies.clear();
  for (const auto& name : required_list(o.policies, "--policies"))
    so.policies.push_back(parse_policy(name));
  so.budgets = o.budgets;
  so.kivi.clear();
  for (const auto& p : split_list(o.kivi)) so.kivi.push_back(parse_pair(p));
  so.policy.streaming.cache_positions = o.streaming_cache_positions;
  so.batch = o.batch;
  so.seed = o.seed;
  so.journal_path = o.out + ".journal.jsonl";
  std::vector<TaskSpec> specs;
  std::vector<std::string> inputs = o.configs;
  inputs.insert(inputs.end(), o.fronts.begin(), o.fronts.end());
  for (const auto& t : required_list(o.tasks, "--tasks")) {
    specs.push_back(parse_task(t, Split::kHeldOut, o.samples));
    if (specs.back().kind == TaskKind::kText && o.text_samples > 0) specs.back().samples = o.text_samples;
    if (!specs.back().data_path.empty()) inputs.push_back(specs.back().data_path);
  }
  for (const char* ext : {".json", ".md", ".dat", ".gp", ".png", ".journal.jsonl"})
    refuse_output_over_inputs(o.out + ext, "--out", inputs);

  const std::atomic<bool>& stop = stop_on_sigint();
  so.stop = &stop;
  auto rt = load_runtime(o.model);
  if (team().rank > 0) return serve_team(rt.model, rt.tokenizer);
  if (!so.kivi.empty()) check_scheme_fits(Scheme::kKivi, rt.model.config.head_dim);
  for (const auto& f : o.configs)
    so.configs.push_back(eval_config_from_file(f, kv_shape(rt.model.config)));
  if (!o.fronts.empty()) so.budget_configs = front_budget_configs(o.fronts, so.budgets, kv_shape(rt.model.config));
  const auto tasks = prepare_policy_study_tasks(specs, rt.tokenizer);
  const nlohmann::json study = run_policy_study(rt.model, rt.tokenizer, tasks, so);

  write_file_atomic(o.out + ".json", study.dump(2) + "\n");
  const std::string table = policy_table(study);
  write_file_atomic(o.out + ".md", table);
  const std::string dat = o.out + ".dat", gp = o.out + ".gp", png = o.out + ".png";
  write_file_atomic(dat, policy_plot_data(study));
  write_file_atomic(gp, policy_plot_script(study, dat, png));
  // A missing or failing gnuplot costs the picture only: the study's results are written.
  if (const std::string failure = plot_failure(run_gnuplot(gp), png, gp); !failure.empty())
    spdlog::warn("{}", failure);
  else
    spdlog::info("wrote {}", png);
  spdlog::info("wrote {}.json and {}.md", o.out, o.out);
  std::fputs(table.c_str(), stdout);
  return 0;
}

Command setup_policies(CLI::App& parent) {
  auto o = std::make_shared<PoliciesOptions>();
  auto* sub = parent.add_subcommand(
      "policies", "Eviction versus quantization: token policies at equal true-byte budgets");
  add_model_options(sub, o->model);
  sub->add_option("-t,--tasks", o->tasks, "Held-out tasks: recall, arith, text, or FILE.txt / FILE.jsonl")
      ->delimiter(',')->check(non_empty())->check(task_name())->capture_default_str();
  sub->add_option("-p,--policies", o->policies,
                  "Policies: streaming, h2o, snapkv, tova, knorm, mikv, zipvl, kvcrush, vidkv")
      ->delimiter(',')->check(non_empty())
      ->check(parsed_by([](const std::string& s) { parse_policy(s); }, "POLICY"))
      ->capture_default_str();
  sub->add_option("-b,--budgets", o->budgets, "Budgets, fractions of the fp16 cache")
      ->delimiter(',')->check(finite_in(0.0, 1.0, /*lo_open=*/true))->capture_default_str();
  // An empty value is allowed here: `--kivi ""` skips the baselines.
  sub->add_option("--kivi", o->kivi, "KIVI uniform baselines (pairs; empty to skip)")
      ->delimiter(',')
      ->check(parsed_by(
          [](const std::string& s) {
            if (!s.empty()) parse_pair(s);
          },
          "PAIR"))
      ->capture_default_str();
  sub->add_option("-c,--config", o->configs, "kvmix per-layer config file(s) as baselines")
      ->check(CLI::ExistingFile);
  sub->add_option("--front", o->fronts,
                  "front.json file(s) of kvmix search (e.g. one per --budget-bits): at each budget, "
                  "the lowest-KL point that fits")
      ->check(CLI::ExistingFile);
  sub->add_option("-n,--samples", o->samples, "Samples per task")
      ->check(positive_int())->capture_default_str();
  sub->add_option("--text-samples", o->text_samples, "Text windows (0: --samples)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  sub->add_option("--batch", o->batch, "Sequences per batch")
      ->check(positive_int())->capture_default_str();
  sub->add_option("--seed", o->seed, "Seed (recorded; seeds the bootstrap intervals)")->capture_default_str();
  sub->add_flag("--streaming-cache-positions", o->streaming_cache_positions,
                "StreamingLLM attends at positions within the cache (the paper's) instead of the text's");
  sub->add_option("-o,--out", o->out,
                  "Output prefix: PREFIX.json, .md, .dat, .gp, .png; PREFIX.journal.jsonl keeps "
                  "finished runs, so the same command run again continues where it stopped")
      ->check(non_empty())->capture_default_str();
  return {sub, [o] { return run_policies_command(*o); }, /*team=*/true};
}

}  // namespace
KVMIX_REGISTER_COMMAND(setup_policies);
}  // namespace kvmix::app
