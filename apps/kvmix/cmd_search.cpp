// `kvmix search`: the search stages of `kvmix tune` on a profile made by `kvmix profile`:
//   prune -> cluster -> exact proxy front -> search on the calibration KL (DIR/journal.jsonl:
//   kvmix's proxy-guided evaluations, or the KVTuner-style NSGA-II with --method kvtuner)
//   -> DIR/front.json and DIR/front.png, the front also printed as a table.
// The objective runs on the calibration tasks and sample count the sensitivity file records, so the
// search scores configurations on the data they were profiled on. Rerunning the same command
// replays the journal and continues where an interrupted run stopped.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>

#include "apps/kvmix/command.h"
#include "apps/kvmix/model_options.h"
#include "apps/kvmix/stage_options.h"
#include "search/run_timing.h"
#include "base/error.h"
#include "search/cluster_sweep.h"
#include "search/prune.h"

namespace fs = std::filesystem;

namespace kvmix::app {
namespace {

struct SearchCommandOptions {
  ModelOptions model;
  std::string sensitivity;  // from `kvmix profile`
  SearchStageOptions search;
  std::string out = "runs/search";
  std::vector<double> sweep_thresholds;  // print what each threshold costs on the proxy, then stop
};

int run_search_command(const SearchCommandOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::atomic<bool>& stop = stop_on_sigint();
  const auto rt = load_runtime(o.model);
  const Sensitivity s = load_sensitivity_for(o.sensitivity, rt.model);
  if (!o.sweep_thresholds.empty()) {
    // Needs no model evaluation: choosing --cluster-threshold before paying for a search.
    const ErrorMetric metric = parse_error_metric(o.search.metric);
    const auto candidates = prune_pairs(s, metric);
    const auto rows = sweep_cluster_threshold(s, candidates, metric, o.sweep_thresholds);
    std::printf("# Cluster threshold sweep (%s, metric %s)\n\n", o.sensitivity.c_str(),
                o.search.metric.c_str());
    std::fputs(cluster_sweep_table(s, candidates, rows).c_str(), stdout);
    return 0;
  }
  KVMIX_CHECK(!s.tasks.empty() && s.samples > 0, "{}: records no calibration tasks to search on", o.sensitivity);
  std::error_code ec;
  fs::create_directories(o.out, ec);
  KVMIX_CHECK(!ec, "{}: cannot create the output folder: {}", o.out, ec.message());

  const SearchSpace space = reduce_search_space(s, o.search);
  const auto calib = task_specs(s.tasks, Split::kCalibration, s.samples);
  auto identity = search_identity("search", o.search, s, s.tasks, s.samples);
  // The profile lives outside the run folder and may be redone with other pairs: trials store pair
  // indices, so a journal is only valid for the same pair list.
  std::vector<std::string> pairs;
  for (const auto& p : s.pairs) pairs.push_back(pair_name(p));
  identity["pairs"] = pairs;
  const SearchStageResult r = search_stage(rt.model, rt.tokenizer, s, space, o.search, calib, identity, o.out, &stop);
  if (!r.front.complete) return 130;

  std::printf("# kvmix search (%s)\n\n%zu full evaluations%s, %zu points on the front, hypervolume %.4f\n\n",
              r.front.method.c_str(), static_cast<size_t>(r.front.evaluations),
              r.resumed ? " (journal replayed)" : "", r.front.points.size(),
              r.front.hypervolume_curve.empty() ? 0.0 : r.front.hypervolume_curve.back());
  std::fputs(front_table(r.front, s).c_str(), stdout);
  spdlog::info("wrote {0}/front.json and {0}/front.png in {1:.1f} s", o.out, seconds_since(t0));
  return 0;
}

Command setup_search(CLI::App& parent) {
  auto o = std::make_shared<SearchCommandOptions>();
  auto* sub = parent.add_subcommand(
      "search", "Prune, cluster, exact proxy front and the search on a sensitivity file (front.json)");
  sub->add_option("--sensitivity", o->sensitivity, "sensitivity.json written by `kvmix profile`")->required();
  add_model_options(sub, o->model);
  add_search_stage_options(sub, o->search);
  sub->add_option("--sweep-thresholds", o->sweep_thresholds,
                  "Print clusters, search space and proxy-front loss for each cluster threshold, then stop")
      ->delimiter(',');
  sub->add_option("-o,--out", o->out, "Run folder: journal.jsonl, front.json, front.png (rerun to resume)")
      ->capture_default_str();
  return {sub, [o] { return run_search_command(*o); }};
}

}  // namespace
KVMIX_REGISTER_COMMAND(setup_search);
}  // namespace kvmix::app
