// `kvmix tune`: kvmix's main job in one go, into one run folder that it resumes from when rerun.
// The pipeline is library code (search/tune.h: the stages, what is reused and when); this file
// declares the flags, loads the model, installs the Ctrl-C handler and prints the summary.
#include <spdlog/spdlog.h>

#include <cstdio>

#include "apps/kvmix/command.h"
#include "lib/process/team.h"
#include "search/team_work.h"
#include "apps/kvmix/model_options.h"
#include "apps/kvmix/stage_options.h"
#include "search/tune.h"

namespace kvmix::app {
namespace {

struct TuneCommandOptions {
  ModelOptions model;
  std::string out = "runs/tune";
  TuneOptions tune;
};

int run_tune_command(TuneCommandOptions o) {
  o.tune.model_label = o.model.model;
  o.tune.dtype = o.model.dtype;
  check_tune_options(o.tune);  // before the model loads: a bad option costs nothing
  const std::atomic<bool>& stop = stop_on_sigint();
  const auto rt = load_runtime(o.model);
  if (team().rank > 0) return serve_team(rt.model, rt.tokenizer);
  const TuneResult r = run_tune(rt.model, rt.tokenizer, o.tune, o.out, &stop);
  if (!r.complete) {
    spdlog::warn("interrupted: rerun the same command to continue from {}", o.out);
    return 130;
  }
  std::fputs(r.summary.c_str(), stdout);
  spdlog::info("wrote {}/{{sensitivity,front,eval,config,timing}}.json and summary.md", o.out);
  return 0;
}

Command setup_tune(CLI::App& parent) {
  auto o = std::make_shared<TuneCommandOptions>();
  auto* sub = parent.add_subcommand("tune", "Profile, prune, cluster, search, evaluate and export in one run");
  add_model_options(sub, o->model);
  sub->add_option("-o,--out", o->out, "Run folder (rerun to resume)")->capture_default_str();
  add_profile_stage_options(sub, o->tune.profile);
  sub->add_option("--eval-tasks", o->tune.eval_tasks, "Held-out tasks")
      ->delimiter(',')
      ->capture_default_str();
  sub->add_option("--eval-samples", o->tune.eval_samples, "Held-out samples per task")
      ->check(CLI::Range(int64_t{1}, int64_t{100000}))
      ->capture_default_str();
  add_search_stage_options(sub, o->tune.search);
  sub->add_option("--max-kl", o->tune.max_kl, "Chosen config: fewest bytes with calibration KL <= this")
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  return {sub, [o] { return run_tune_command(*o); }, /*team=*/true};
}

}  // namespace
KVMIX_REGISTER_COMMAND(setup_tune);
}  // namespace kvmix::app
