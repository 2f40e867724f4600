// `kvmix policies`: eviction versus quantization at equal memory. Every token policy
// (lib/policies/) at several budgets (fractions of the fp16 cache, in true bytes), KIVI uniform
// baselines and optional kvmix per-layer configs, on held-out tasks; writes JSON, a Markdown table
// and a plot of score against true bytes (gnuplot, when installed). The study itself, with its
// journal, is search/policy_study.h.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>

#include "apps/kvmix/command.h"
#include "apps/kvmix/model_options.h"
#include "lib/atomic_file.h"
#include "lib/error.h"
#include "lib/policies/make_policy.h"
#include "lib/policies/policy_report.h"
#include "search/eval_run.h"
#include "search/policy_study.h"

namespace kvmix::app {
namespace {

struct PoliciesOptions {
  ModelOptions model;
  std::vector<std::string> tasks = {"recall", "arith", "text"};
  std::vector<std::string> policies = {"streaming", "h2o", "snapkv", "tova",
                                       "mikv",      "zipvl", "kvcrush", "vidkv"};
  std::vector<double> budgets = {0.125, 0.25, 0.5};
  std::vector<std::string> kivi = {"KV2", "K4V2", "KV4"};  // KIVI uniform baselines
  std::vector<std::string> configs;                        // kvmix per-layer configs
  int64_t samples = 32;
  int64_t batch = 16;
  uint64_t seed = 0;
  // writes OUT.json, OUT.md, OUT.dat, OUT.gp, OUT.png; OUT.journal.jsonl keeps finished runs
  std::string out = "policies";
};

bool gnuplot_available() { return std::system("command -v gnuplot > /dev/null 2>&1") == 0; }

int run_policies_command(const PoliciesOptions& o) {
  for (double b : o.budgets)
    KVMIX_CHECK(b > 0 && b <= 1, "--budgets: {} is not a fraction of the fp16 cache in (0, 1]", b);
  PolicyStudyOptions so;
  so.policies.clear();
  for (const auto& name : split_list(o.policies)) so.policies.push_back(parse_policy(name));
  so.budgets = o.budgets;
  so.kivi.clear();
  for (const auto& p : split_list(o.kivi)) so.kivi.push_back(parse_pair(p));
  so.batch = o.batch;
  so.seed = o.seed;
  so.journal_path = o.out + ".journal.jsonl";

  auto rt = load_runtime(o.model);
  for (const auto& f : o.configs)
    so.configs.push_back(eval_config_from_file(f, model_shape(rt.model)));
  std::vector<TaskSpec> specs;
  for (const auto& t : split_list(o.tasks))
    specs.push_back(parse_task(t, Split::kHeldOut, o.samples));
  const auto tasks = prepare_policy_study_tasks(specs, rt.tokenizer);
  const nlohmann::json study = run_policy_study(rt.model, rt.tokenizer, tasks, so);

  write_file_atomic(o.out + ".json", study.dump(2) + "\n");
  const std::string table = policy_table(study);
  write_file_atomic(o.out + ".md", table);
  const std::string dat = o.out + ".dat", gp = o.out + ".gp", png = o.out + ".png";
  write_file_atomic(dat, policy_plot_data(study));
  write_file_atomic(gp, policy_plot_script(study, dat, png));
  if (!gnuplot_available()) {
    spdlog::warn("gnuplot not found: wrote {} and {} but no plot", dat, gp);
  } else if (std::system(("gnuplot '" + gp + "'").c_str()) != 0) {
    spdlog::warn("gnuplot failed on {}: no plot", gp);
  } else {
    spdlog::info("wrote {}", png);
  }
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
      ->delimiter(',')->capture_default_str();
  sub->add_option("-p,--policies", o->policies,
                  "Policies: streaming, h2o, snapkv, tova, mikv, zipvl, kvcrush, vidkv")
      ->delimiter(',')->capture_default_str();
  sub->add_option("-b,--budgets", o->budgets, "Budgets, fractions of the fp16 cache")
      ->delimiter(',')->capture_default_str();
  sub->add_option("--kivi", o->kivi, "KIVI uniform baselines (pairs; empty to skip)")
      ->delimiter(',')->capture_default_str();
  sub->add_option("-c,--config", o->configs, "kvmix per-layer config file(s) as baselines");
  sub->add_option("-n,--samples", o->samples, "Samples per task")->capture_default_str();
  sub->add_option("--batch", o->batch, "Sequences per batch")->capture_default_str();
  sub->add_option("--seed", o->seed, "Seed (recorded)")->capture_default_str();
  sub->add_option("-o,--out", o->out,
                  "Output prefix: PREFIX.json, .md, .dat, .gp, .png; PREFIX.journal.jsonl keeps "
                  "finished runs, so the same command run again continues where it stopped")
      ->capture_default_str();
  return {sub, [o] { return run_policies_command(*o); }};
}

}  // namespace
KVMIX_REGISTER_COMMAND(setup_policies);
}  // namespace kvmix::app
