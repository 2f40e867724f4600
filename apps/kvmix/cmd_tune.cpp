// `kvmix tune`: kvmix's main job in one go, into one run folder that it resumes from when rerun:
//   profile (sensitivity.json) -> prune -> cluster -> exact proxy front -> search on the calibration
//   KL guided by the proxy, corrected as it measures (journal.jsonl, front.json) -> pick the smallest config within --max-kl ->
//   held-out eval of it beside uniform baselines (eval.json) -> export (config.json) -> summary.md
// Every stage's output is written atomically; a finished stage is read back instead of redone, and
// the search replays its journal, so an interrupted run loses at most the evaluation in flight.
// Stage times go to timing.json as each stage ends: a stage read back on a rerun keeps the seconds
// it cost when computed, and the search adds each run's share when it continues its journal.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>

#include "apps/kvmix/command.h"
#include "apps/kvmix/model_options.h"
#include "apps/kvmix/plots.h"
#include "apps/kvmix/tune_stages.h"
#include "lib/atomic_file.h"
#include "lib/error.h"
#include "lib/json_file.h"
#include "lib/kv_config.h"
#include "search/eval_run.h"

namespace fs = std::filesystem;

namespace kvmix::app {
namespace {

struct TuneOptions {
  ModelOptions model;
  std::string out = "runs/tune";
  ProfileStageOptions profile;
  SearchStageOptions search;
  std::vector<std::string> eval_tasks = {"arith", "recall", "text"};
  int64_t eval_samples = 32;
  double max_kl = 0.02;  // chosen config: smallest bytes with KL <= this
};

int run_tune(const TuneOptions& o) {
  const auto t_all = std::chrono::steady_clock::now();
  fs::create_directories(o.out);
  const std::atomic<bool>& stop = stop_on_sigint();
  auto rt = load_runtime(o.model);
  const Model& m = rt.model;
  RunTiming timing(o.out + "/timing.json");

  // 1. profile
  auto t0 = std::chrono::steady_clock::now();
  const std::string sens_path = o.out + "/sensitivity.json";
  Sensitivity s;
  if (fs::exists(sens_path)) {
    s = load_sensitivity_for(sens_path, m);
    spdlog::info("profile: reusing {}", sens_path);
    timing.record("profile", seconds_since(t0), StageRun::kReused);
  } else {
    s = profile_stage(rt, o.profile, sens_path);
    spdlog::info("wrote {}", sens_path);
    timing.record("profile", seconds_since(t0), StageRun::kRan);
  }
  if (stop) return 130;

  // 2. prune, cluster and the exact proxy front
  t0 = std::chrono::steady_clock::now();
  const SearchSpace space = reduce_search_space(s, o.search);
  plot_sensitivity_heatmap(s, space.metric, o.out + "/sensitivity.png");
  timing.record("prune, cluster, proxy front", seconds_since(t0), StageRun::kRan);

  // 3. the search on the calibration KL, guided by the proxy front
  t0 = std::chrono::steady_clock::now();
  const auto calib = task_specs(o.profile.calib_tasks, Split::kCalibration, o.profile.calib_samples);
  const auto identity = search_identity("tune", o.search, s, o.profile.calib_tasks, o.profile.calib_samples);
  const SearchStageResult searched = search_stage(rt, s, space, o.search, calib, identity, o.out, &stop);
  const Front& front = searched.front;
  timing.record("search", seconds_since(t0), searched.resumed ? StageRun::kResumed : StageRun::kRan);
  if (!front.complete) return 130;
  KVMIX_CHECK(!front.points.empty(), "tune: the search produced no configuration within the budget");

  // 4. choice: the fewest bytes whose calibration KL is within --max-kl (else the lowest KL)
  const FrontPoint* chosen = nullptr;
  for (const auto& p : front.points)
    if (p.kl <= o.max_kl && (!chosen || p.bytes_per_token < chosen->bytes_per_token)) chosen = &p;
  if (!chosen) {
    for (const auto& p : front.points)
      if (!chosen || p.kl < chosen->kl) chosen = &p;
    spdlog::warn("no front point has calibration KL <= {}; taking the lowest KL ({:.4f})", o.max_kl,
                 chosen->kl);
  }
  std::vector<LayerKvFormat> formats;
  for (size_t p : chosen->layer_pairs) formats.push_back(pair_formats(s, p));
  KvConfig cfg = make_kv_config(m, formats, s.reference_tokens);
  cfg.provenance.model_path = o.model.model;
  cfg.provenance.calibration = fmt::format("{} calibration split, {} samples each",
                                           fmt::join(o.profile.calib_tasks, "+"), o.profile.calib_samples);
  cfg.provenance.objective = fmt::format("smallest true bytes with calibration KL <= {}", o.max_kl);
  cfg.provenance.seed = o.search.seed;
  cfg.provenance.measured = {{"calibration_kl", chosen->kl}};

  // 5. held-out eval of the choice beside uniform baselines
  t0 = std::chrono::steady_clock::now();
  const std::string eval_path = o.out + "/eval.json";
  nlohmann::json ev;
  if (fs::exists(eval_path)) {
    ev = read_json_file(eval_path);
    timing.record("held-out eval", seconds_since(t0), StageRun::kReused);
  } else {
    std::vector<EvalConfig> configs = uniform_eval_configs(
        {s.scheme}, {parse_pair("KV4"), parse_pair("K4V2"), parse_pair("KV2")}, s.model.layers);
    configs.insert(configs.begin(), EvalConfig{"kvmix tuned", formats, "mixed"});
    EvalRunOptions ro;
    ro.tasks = task_specs(o.eval_tasks, Split::kHeldOut, o.eval_samples);
    ro.seed = o.search.seed;
    ro.reference_tokens = s.reference_tokens;
    ev = run_eval(m, rt.tokenizer, configs, ro);
    write_file_atomic(eval_path, ev.dump(2) + "\n");
    timing.record("held-out eval", seconds_since(t0), StageRun::kRan);
  }
  for (const auto& r : ev.at("results"))
    if (r.at("config") == "kvmix tuned")
      cfg.provenance.measured[r.at("task").get<std::string>()] = {{"score", r.at("score")}, {"kl", r.at("kl")}};

  // 6. export and summary
  save_kv_config(cfg, o.out + "/config.json");
  std::string md = "# kvmix tune\n\n";
  md += fmt::format("Model: `{}` ({} layers, {} KV heads x {} dims), scheme {}, error metric {}.\n\n",
                    o.model.model, s.model.layers, s.model.kv_heads, s.model.head_dim,
                    scheme_name(s.scheme), o.search.metric);
  md += fmt::format("Search space: 10^{:.2f} configurations; 10^{:.2f} after pruning dominated pairs; "
                    "10^{:.2f} over {} layer clusters (threshold {}).\n\n",
                    space.log10_full, space.log10_pruned, space.log10_clustered, space.clusters.layers.size(),
                    o.search.cluster_threshold);
  md += fmt::format("Exact proxy front: {} points. Full evaluations: {} (population {}, {} generations), "
                    "front: {} points, hypervolume {:.4f}.\n\n",
                    space.proxy.size(), front.evaluations, o.search.population, o.search.generations,
                    front.points.size(), front.hypervolume_curve.empty() ? 0.0 : front.hypervolume_curve.back());
  md += front_table(front, s, chosen);
  md += fmt::format("\nChosen (`config.json`): {:.0f} true bytes per token at {} tokens ({:.3f} true bits, "
                    "{:.2f} nominal), calibration KL {:.4f}.\n\n## Held-out evaluation\n\n",
                    chosen->bytes_per_token, s.reference_tokens, chosen->true_bits, chosen->nominal_bits,
                    chosen->kl);
  md += eval_table(ev);
  md += "\nPictures: `sensitivity.png` (layers x pairs), `front.png`.\n";
  md += "\n## Where the time went\n\n" + timing.markdown_table(seconds_since(t_all));
  write_file_atomic(o.out + "/summary.md", md);
  std::fputs(md.c_str(), stdout);
  spdlog::info("wrote {}/{{sensitivity,front,eval,config,timing}}.json and summary.md", o.out);
  return 0;
}

Command setup_tune(CLI::App& parent) {
  auto o = std::make_shared<TuneOptions>();
  auto* sub = parent.add_subcommand("tune", "Profile, prune, cluster, search, evaluate and export in one run");
  add_model_options(sub, o->model);
  sub->add_option("-o,--out", o->out, "Run folder (rerun to resume)")->capture_default_str();
  add_profile_stage_options(sub, o->profile);
  sub->add_option("--eval-tasks", o->eval_tasks, "Held-out tasks")->delimiter(',')->capture_default_str();
  sub->add_option("--eval-samples", o->eval_samples, "Held-out samples per task")->capture_default_str();
  add_search_stage_options(sub, o->search);
  sub->add_option("--max-kl", o->max_kl, "Chosen config: fewest bytes with calibration KL <= this")
      ->capture_default_str();
  return {sub, [o] { return run_tune(*o); }};
}

}  // namespace
KVMIX_REGISTER_COMMAND(setup_tune);
}  // namespace kvmix::app
