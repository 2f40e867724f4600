// `kvmix tune`: kvmix's main job in one go, into one run folder that it resumes from when rerun:
//   profile (sensitivity.json) -> prune -> cluster -> exact proxy front -> NSGA-II seeded with it on
//   the calibration KL (journal.jsonl, front.json) -> pick the smallest config within --max-kl ->
//   held-out eval of it beside uniform baselines (eval.json) -> export (config.json) -> summary.md
// Every stage's output is written atomically; a finished stage is read back instead of redone, and
// the search replays its journal, so an interrupted run loses at most the evaluation in flight.
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>

#include "apps/kvmix/command.h"
#include "apps/kvmix/model_options.h"
#include "apps/kvmix/plots.h"
#include "lib/atomic_file.h"
#include "lib/error.h"
#include "lib/json_file.h"
#include "lib/kv_config.h"
#include "search/cluster.h"
#include "search/dp_front.h"
#include "search/eval_run.h"
#include "search/front.h"
#include "search/nsga2_search.h"
#include "search/objective.h"
#include "search/profile.h"
#include "search/prune.h"

namespace fs = std::filesystem;

namespace kvmix::app {
namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_sigint(int) { g_stop = true; }

struct TuneOptions {
  ModelOptions model;
  std::string out = "runs/tune";
  std::string scheme = "kivi";
  std::vector<std::string> pairs;              // default: KVTuner's nine
  std::vector<std::string> calib_tasks = {"arith", "recall", "text"};
  std::vector<std::string> eval_tasks = {"arith", "recall", "text"};
  int64_t calib_samples = 8;
  int64_t eval_samples = 32;
  std::string metric = "out";                  // per-cell error for prune/cluster/proxy
  double cluster_threshold = 0.3;
  int64_t population = 8;
  int64_t generations = 2;
  double max_kl = 0.02;                        // chosen config: smallest bytes with KL <= this
  double budget_bits = 0;                      // true bits per element, 0: none
  uint64_t seed = 0;
  std::string method = "kvmix";                // or "kvtuner": random start, no proxy seeding (baseline)
};

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::vector<TaskSpec> task_specs(const std::vector<std::string>& names, Split split, int64_t n) {
  std::vector<TaskSpec> t;
  for (const auto& name : split_list(names)) t.push_back(parse_task(name, split, n));
  return t;
}

int run_tune(const TuneOptions& o) {
  const auto t_all = std::chrono::steady_clock::now();
  fs::create_directories(o.out);
  std::signal(SIGINT, on_sigint);
  auto rt = load_runtime(o.model);
  const Model& m = rt.model;
  std::vector<std::pair<std::string, double>> timing;

  // 1. profile
  auto t0 = std::chrono::steady_clock::now();
  const std::string sens_path = o.out + "/sensitivity.json";
  Sensitivity s;
  if (fs::exists(sens_path)) {
    s = load_sensitivity(sens_path);
    check_kv_config_matches(KvConfig{s.model, {}, {}}, model_shape(m), sens_path);
    spdlog::info("profile: reusing {}", sens_path);
  } else {
    ProfileOptions po;
    po.scheme = parse_scheme(o.scheme);
    if (!o.pairs.empty()) {
      po.pairs.clear();
      for (const auto& p : split_list(o.pairs)) po.pairs.push_back(parse_pair(p));
    }
    po.tasks = task_specs(o.calib_tasks, Split::kCalibration, o.calib_samples);
    s = run_profile(m, rt.tokenizer, po);
    save_sensitivity(s, sens_path);
    spdlog::info("wrote {}", sens_path);
  }
  timing.emplace_back("profile", seconds_since(t0));
  if (g_stop) return 130;

  // 2. prune and cluster
  t0 = std::chrono::steady_clock::now();
  const ErrorMetric metric = parse_error_metric(o.metric);
  const auto candidates = prune_pairs(s, metric);
  ClusterOptions co;
  co.threshold = o.cluster_threshold;
  const Clustering clusters = cluster_layers(s, candidates, metric, co);
  std::vector<std::vector<size_t>> all(s.cells.size());
  for (auto& a : all)
    for (size_t p = 0; p < s.pairs.size(); ++p) a.push_back(p);
  const double space_full = log10_search_space(all), space_pruned = log10_search_space(candidates),
               space_clustered = log10_search_space(clusters);
  spdlog::info("search space: 10^{:.2f} configs, 10^{:.2f} after pruning, 10^{:.2f} over {} clusters",
               space_full, space_pruned, space_clustered, clusters.layers.size());

  plot_sensitivity_heatmap(s, metric, o.out + "/sensitivity.png");

  // 3. exact proxy front
  const auto proxy = exact_proxy_front(s, clusters, metric);
  timing.emplace_back("prune, cluster, proxy front", seconds_since(t0));

  // 4. NSGA-II on the calibration KL, seeded with the proxy front
  t0 = std::chrono::steady_clock::now();
  ObjectiveOptions oo;
  oo.tasks = task_specs(o.calib_tasks, Split::kCalibration, o.calib_samples);
  ObjectiveEvaluator objective(m, rt.tokenizer, s, oo);
  SearchOptions so;
  so.method = o.method;
  so.population = o.population;
  so.generations = o.generations;
  so.seed = o.seed;
  const double elems = 2.0 * static_cast<double>(s.model.layers * s.model.kv_heads * s.model.head_dim);
  so.budget_bytes_per_token = o.budget_bits > 0 ? o.budget_bits * elems / 8.0 : 0.0;
  so.journal_path = o.out + "/journal.jsonl";
  const nlohmann::json identity = {{"command", "tune"}, {"method", so.method},
                                   {"scheme", scheme_name(s.scheme)}, {"metric", o.metric},
                                   {"cluster_threshold", o.cluster_threshold},
                                   {"calib_tasks", o.calib_tasks}, {"calib_samples", o.calib_samples},
                                   {"population", o.population}, {"seed", o.seed},
                                   {"model", s.model.config_hash}};
  Front front = run_search(s, clusters, objective, proxy, so, &g_stop, identity);
  save_front(front, o.out + "/front.json");
  plot_front(front, o.out + "/front.png");
  timing.emplace_back("search", seconds_since(t0));
  if (!front.complete) {
    spdlog::warn("interrupted: rerun the same command to continue from {}", so.journal_path);
    return 130;
  }
  KVMIX_CHECK(!front.points.empty(), "tune: the search produced no configuration within the budget");

  // 5. choice: the fewest bytes whose calibration KL is within --max-kl (else the lowest KL)
  const FrontPoint* chosen = nullptr;
  for (const auto& p : front.points)
    if (p.kl <= o.max_kl && (!chosen || p.bytes_per_token < chosen->bytes_per_token)) chosen = &p;
  if (!chosen) {
    for (const auto& p : front.points)
      if (!chosen || p.kl < chosen->kl) chosen = &p;
    spdlog::warn("no front point has calibration KL <= {}; taking the lowest KL ({:.4f})", o.max_kl,
                 chosen->kl);
  }
  const auto formats = objective.layer_formats(chosen->layer_pairs);
  KvConfig cfg = make_kv_config(m, formats, s.reference_tokens);
  cfg.provenance.model_path = o.model.model;
  cfg.provenance.calibration = fmt::format("{} calibration split, {} samples each", fmt::join(o.calib_tasks, "+"),
                                           o.calib_samples);
  cfg.provenance.objective = fmt::format("smallest true bytes with calibration KL <= {}", o.max_kl);
  cfg.provenance.seed = o.seed;
  cfg.provenance.measured = {{"calibration_kl", chosen->kl}};

  // 6. held-out eval of the choice beside uniform baselines
  t0 = std::chrono::steady_clock::now();
  const std::string eval_path = o.out + "/eval.json";
  nlohmann::json ev;
  if (fs::exists(eval_path)) {
    ev = read_json_file(eval_path);
  } else {
    std::vector<EvalConfig> configs = uniform_eval_configs({s.scheme}, {parse_pair("KV4"), parse_pair("K4V2"), parse_pair("KV2")},
                                                           s.model.layers);
    configs.insert(configs.begin(), EvalConfig{"kvmix tuned", formats, "mixed"});
    EvalRunOptions ro;
    ro.tasks = task_specs(o.eval_tasks, Split::kHeldOut, o.eval_samples);
    ro.seed = o.seed;
    ro.reference_tokens = s.reference_tokens;
    ev = run_eval(m, rt.tokenizer, configs, ro);
    write_file_atomic(eval_path, ev.dump(2) + "\n");
  }
  for (const auto& r : ev.at("results"))
    if (r.at("config") == "kvmix tuned")
      cfg.provenance.measured[r.at("task").get<std::string>()] = {{"score", r.at("score")}, {"kl", r.at("kl")}};
  timing.emplace_back("held-out eval", seconds_since(t0));

  // 7. export and summary
  save_kv_config(cfg, o.out + "/config.json");
  std::string md = "# kvmix tune\n\n";
  md += fmt::format("Model: `{}` ({} layers, {} KV heads x {} dims), scheme {}, error metric {}.\n\n",
                    o.model.model, s.model.layers, s.model.kv_heads, s.model.head_dim,
                    scheme_name(s.scheme), o.metric);
  md += fmt::format("Search space: 10^{:.2f} configurations; 10^{:.2f} after pruning dominated pairs; "
                    "10^{:.2f} over {} layer clusters (threshold {}).\n\n",
                    space_full, space_pruned, space_clustered, clusters.layers.size(), o.cluster_threshold);
  md += fmt::format("Exact proxy front: {} points. Full evaluations: {} (population {}, {} generations), "
                    "front: {} points, hypervolume {:.4f}.\n\n",
                    proxy.size(), front.evaluations, o.population, o.generations, front.points.size(),
                    front.hypervolume_curve.empty() ? 0.0 : front.hypervolume_curve.back());
  md += "| true bytes/token | true bits | nominal bits | calibration KL | per-layer pairs |\n|---:|---:|---:|---:|---|\n";
  for (const auto& p : front.points) {
    std::string names;
    for (size_t l : p.layer_pairs) names += (names.empty() ? "" : " ") + pair_name(s.pairs[l]);
    md += fmt::format("| {:.0f} | {:.3f} | {:.2f} | {:.4f} | {}{} |\n", p.bytes_per_token, p.true_bits,
                      p.nominal_bits, p.kl, names, &p == chosen ? " (chosen)" : "");
  }
  md += fmt::format("\nChosen (`config.json`): {:.0f} true bytes per token at {} tokens ({:.3f} true bits, "
                    "{:.2f} nominal), calibration KL {:.4f}.\n\n## Held-out evaluation\n\n",
                    chosen->bytes_per_token, s.reference_tokens, chosen->true_bits, chosen->nominal_bits,
                    chosen->kl);
  md += eval_table(ev);
  md += "\nPictures: `sensitivity.png` (layers x pairs), `front.png`.\n";
  md += "\n## Where the time went\n\n| stage | seconds |\n|---|---:|\n";
  for (const auto& [stage, sec] : timing) md += fmt::format("| {} | {:.1f} |\n", stage, sec);
  md += fmt::format("| total | {:.1f} |\n", seconds_since(t_all));
  write_file_atomic(o.out + "/summary.md", md);
  std::fputs(md.c_str(), stdout);
  spdlog::info("wrote {}/{{sensitivity,front,eval,config}}.json and summary.md", o.out);
  return 0;
}

Command setup_tune(CLI::App& parent) {
  auto o = std::make_shared<TuneOptions>();
  auto* sub = parent.add_subcommand("tune", "Profile, prune, cluster, search, evaluate and export in one run");
  add_model_options(sub, o->model);
  sub->add_option("-o,--out", o->out, "Run folder (rerun to resume)")->capture_default_str();
  sub->add_option("-s,--scheme", o->scheme, "kivi or per-token")->capture_default_str();
  sub->add_option("-p,--pairs", o->pairs, "Candidate pairs (default: {2,4,8} x {2,4,8})")->delimiter(',');
  sub->add_option("--calib-tasks", o->calib_tasks, "Calibration tasks")->delimiter(',')->capture_default_str();
  sub->add_option("--eval-tasks", o->eval_tasks, "Held-out tasks")->delimiter(',')->capture_default_str();
  sub->add_option("--calib-samples", o->calib_samples, "Calibration samples per task")->capture_default_str();
  sub->add_option("--eval-samples", o->eval_samples, "Held-out samples per task")->capture_default_str();
  sub->add_option("--metric", o->metric, "Per-cell error: out, kl, attn, k, v")->capture_default_str();
  sub->add_option("--cluster-threshold", o->cluster_threshold, "Layer merge distance (log10 error)")
      ->capture_default_str();
  sub->add_option("--population", o->population, "NSGA-II population (multiple of 4, >= 8)")->capture_default_str();
  sub->add_option("--generations", o->generations, "NSGA-II generations")->capture_default_str();
  sub->add_option("--max-kl", o->max_kl, "Chosen config: fewest bytes with calibration KL <= this")
      ->capture_default_str();
  sub->add_option("--budget-bits", o->budget_bits, "True bits per element at most (0: no budget)")
      ->capture_default_str();
  sub->add_option("--seed", o->seed, "Search seed")->capture_default_str();
  sub->add_option("--method", o->method, "kvmix (seeded with the exact proxy front) or kvtuner (random start: KVTuner's recipe, the baseline)")
      ->check(CLI::IsMember({"kvmix", "kvtuner"}))->capture_default_str();
  return {sub, [o] { return run_tune(*o); }};
}

}  // namespace
KVMIX_REGISTER_COMMAND(setup_tune);
}  // namespace kvmix::app
