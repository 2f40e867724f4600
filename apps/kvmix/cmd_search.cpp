// `kvmix search`: the search stages of `kvmix tune` on a profile made by `kvmix profile`:
//   prune -> cluster -> exact proxy front -> search on the calibration KL (DIR/journal.jsonl:
//   kvmix's proxy-guided evaluations, or the KVTuner-style NSGA-II with --method kvtuner)
//   -> DIR/front.json and DIR/front.png, the front also printed as a table.
// With --exhaustive it evaluates every configuration of the clustered space instead
// (DIR/exhaustive.jsonl, DIR/exhaustive.json: the true front, search/exhaustive.h); with --serve it
// answers an external optimizer's configurations on stdin with their objectives on stdout
// (search/objective_server.h); --objective-table answers either from an exhaustive table in place
// of the model (search/objective_table.h), to compare search methods many times over.
// The objective runs on the calibration tasks and sample count the sensitivity file records, so the
// search scores configurations on the data they were profiled on. Rerunning the same command
// replays the journal and continues where an interrupted run stopped.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "apps/kvmix/command.h"
#include "lib/process/team.h"
#include "search/team_work.h"
#include "apps/kvmix/model_options.h"
#include "apps/kvmix/stage_options.h"
#include "search/run_timing.h"
#include "base/error.h"
#include "lib/io/dir_lock.h"
#include "lib/kv_config.h"
#include "models/weights_hash.h"
#include "search/eval_run.h"
#include "search/cluster_sweep.h"
#include "search/exhaustive.h"
#include "search/objective_server.h"
#include "search/objective_table.h"
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
  bool exhaustive = false;    // evaluate every configuration of the space (the true front)
  int jobs = 1;               // --exhaustive: configurations evaluated at once
  bool serve = false;         // answer an external optimizer on stdin/stdout
  std::string objective_table;  // exhaustive.json answering in place of the model
};

// The identity of an exhaustive evaluation or a served session: the search's, without what only a
// search method uses (its population and seed), with what the objective's figures depend on besides
// the profile: the weights' fingerprint and the compute dtype.
nlohmann::json objective_identity(nlohmann::json identity, const char* method, const LoadedRuntime& rt,
                                  const ModelOptions& mo) {
  identity["method"] = method;
  identity.erase("population");
  identity.erase("seed");
  identity["weights"] = weights_hash(rt.model);
  identity["dtype"] = mo.dtype;
  return identity;
}

int run_exhaustive_command(const SearchCommandOptions& o, const LoadedRuntime& rt, const Sensitivity& s,
                           const SearchSpace& space, const std::vector<TaskSpec>& calib,
                           const nlohmann::json& identity, const std::atomic<bool>& stop) {
  const DirLock lock(o.out);
  ObjectiveOptions oo;
  oo.tasks = calib;
  const ObjectiveEvaluator objective(rt.model, rt.tokenizer, s, oo);
  const ExhaustiveTable t = run_exhaustive(s, space.clusters, objective, o.out + "/exhaustive.jsonl",
                                           objective_identity(identity, "exhaustive", rt, o.model), &stop, o.jobs);
  save_exhaustive(s, t, o.out + "/exhaustive.json");
  if (!t.complete) {
    spdlog::warn("interrupted after {} of {} configurations: rerun the same command to continue from {}/exhaustive.jsonl",
                 t.trials.size(), t.space_size, o.out);
    return 130;
  }
  const auto front = exhaustive_front(t);
  // Each true-front point as a per-layer config, for `kvmix eval --config` on the held-out splits:
  // does calibration KL rank the front as held-out quality does?
  const std::string configs = o.out + "/front-configs";
  std::error_code ec;
  fs::create_directories(configs, ec);
  KVMIX_CHECK(!ec, "{}: cannot create the folder: {}", configs, ec.message());
  for (size_t n = 0; n < front.size(); ++n) {
    const Trial& tr = t.trials[front[n]];
    std::vector<LayerKvFormat> formats;
    for (size_t p : tr.layer_pairs) formats.push_back(pair_formats(s, p));
    KvConfig cfg = make_kv_config(rt.model, formats, s.reference_tokens);
    cfg.provenance.model_path = o.model.model;
    cfg.provenance.calibration = fmt::format("{} calibration split, {} samples each", fmt::join(s.tasks, "+"), s.samples);
    cfg.provenance.objective = fmt::format("true front of the exhaustive evaluation, point {} of {} by bytes", n, front.size());
    cfg.provenance.measured = {{"calibration_kl", tr.kl}};
    save_kv_config(cfg, fmt::format("{}/front-{:02d}.json", configs, n));
  }
  std::printf("# kvmix search --exhaustive\n\n%lld configurations, %zu on the true front, hypervolume %.4f\n\n",
              static_cast<long long>(t.space_size), front.size(), exhaustive_hypervolume(t));
  std::printf("| true bytes/token | calibration KL | per-layer pairs |\n|---:|---:|---|\n");
  for (size_t i : front) {
    std::string names;
    for (size_t p : t.trials[i].layer_pairs) names += (names.empty() ? "" : " ") + pair_name(s.pairs.at(p));
    std::printf("| %.0f | %.5f | %s |\n", t.trials[i].bytes_per_token, t.trials[i].kl, names.c_str());
  }
  spdlog::info("wrote {}/exhaustive.json", o.out);
  return 0;
}

int run_serve_command(const SearchCommandOptions& o, const LoadedRuntime& rt, const Sensitivity& s,
                      const SearchSpace& space, const std::vector<TaskSpec>& calib,
                      const nlohmann::json& identity, const std::atomic<bool>& stop) {
  int64_t answered = 0;
  if (!o.objective_table.empty()) {
    const ExhaustiveTable t = load_exhaustive(o.objective_table, s);
    check_table_matches(t, objective_identity(identity, "exhaustive", rt, o.model), space.clusters,
                        o.objective_table);
    const TableObjective table(s, t, o.objective_table);
    answered = serve_objective(std::cin, std::cout, s, space.clusters, table, nullptr, &stop);
  } else {
    const DirLock lock(o.out);
    ObjectiveOptions oo;
    oo.tasks = calib;
    const ObjectiveEvaluator objective(rt.model, rt.tokenizer, s, oo);
    Journal journal(o.out + "/external.jsonl", objective_identity(identity, "external", rt, o.model), trial_space(s));
    answered = serve_objective(std::cin, std::cout, s, space.clusters, objective, &journal, &stop);
  }
  spdlog::info("objective server: {} distinct configurations answered", answered);
  return 0;
}

int run_search_command(const SearchCommandOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::atomic<bool>& stop = stop_on_sigint();
  const auto rt = load_runtime(o.model);
  if (team().rank > 0) return serve_team(rt.model, rt.tokenizer);
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
  if (o.exhaustive) return run_exhaustive_command(o, rt, s, space, calib, identity, stop);
  if (o.serve) return run_serve_command(o, rt, s, space, calib, identity, stop);
  std::unique_ptr<TableObjective> table;
  ExhaustiveTable table_data;
  if (!o.objective_table.empty()) {
    table_data = load_exhaustive(o.objective_table, s);
    check_table_matches(table_data, objective_identity(identity, "exhaustive", rt, o.model), space.clusters,
                        o.objective_table);
    table = std::make_unique<TableObjective>(s, table_data, o.objective_table);
    // Same figures as the model's, but a journal of table answers is kept apart from live ones.
    identity["objective"] = "exhaustive table";
  }
  const SearchStageResult r =
      search_stage(rt.model, rt.tokenizer, s, space, o.search, calib, identity, o.out, &stop, table.get());
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
  auto* ex = sub->add_flag("--exhaustive", o->exhaustive,
                           "Evaluate every configuration of the clustered space (DIR/exhaustive.json: the true front); "
                           "rerun to resume");
  sub->add_option("--jobs", o->jobs, "--exhaustive: configurations evaluated at once (each on --threads threads)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str()
      ->needs(ex);
  auto* serve = sub->add_flag("--serve", o->serve,
                              "Serve the objective to an external optimizer: JSON lines, configurations on stdin, "
                              "objectives on stdout (search/objective_server.h)");
  ex->excludes(serve);
  sub->add_option("--objective-table", o->objective_table,
                  "exhaustive.json answering in place of the model (--serve, or a search): compares methods "
                  "on the same figures without evaluating again")
      ->check(CLI::ExistingFile)
      ->excludes(ex);
  return {sub, [o] { return run_search_command(*o); }, /*team=*/true};
}

}  // namespace
KVMIX_REGISTER_COMMAND(setup_search);
}  // namespace kvmix::app
