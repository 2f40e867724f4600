#include "apps/kvmix/tune_stages.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <csignal>
#include <filesystem>

#include "apps/kvmix/plots.h"
#include "lib/atomic_file.h"
#include "lib/error.h"
#include "lib/json_file.h"
#include "lib/kv_config.h"  // check_kv_config_matches
#include "search/eval_run.h"  // model_shape
#include "search/nsga2_search.h"
#include "search/objective.h"
#include "search/profile.h"
#include "search/prune.h"

namespace fs = std::filesystem;

namespace kvmix::app {
namespace {

// A signal handler can only touch a lock-free atomic with static storage.
std::atomic<bool> g_stop{false};
extern "C" void on_sigint(int) { g_stop = true; }

}  // namespace

const std::atomic<bool>& stop_on_sigint() {
  std::signal(SIGINT, on_sigint);
  return g_stop;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::vector<TaskSpec> task_specs(const std::vector<std::string>& names, Split split, int64_t samples) {
  std::vector<TaskSpec> t;
  for (const auto& name : split_list(names)) t.push_back(parse_task(name, split, samples));
  return t;
}

// --- profile ---------------------------------------------------------------------------------

void add_profile_stage_options(CLI::App* sub, ProfileStageOptions& o) {
  sub->add_option("-s,--scheme", o.scheme, "kivi or per-token")->capture_default_str();
  sub->add_option("-p,--pairs", o.pairs, "Candidate pairs (default: {2,4,8} x {2,4,8})")->delimiter(',');
  sub->add_option("--calib-tasks", o.calib_tasks, "Calibration tasks")->delimiter(',')->capture_default_str();
  sub->add_option("--calib-samples", o.calib_samples, "Calibration samples per task")->capture_default_str();
}

Sensitivity profile_stage(const LoadedRuntime& rt, const ProfileStageOptions& o, const std::string& path) {
  ProfileOptions po;
  po.scheme = parse_scheme(o.scheme);
  if (!o.pairs.empty()) {
    po.pairs.clear();
    for (const auto& p : split_list(o.pairs)) po.pairs.push_back(parse_pair(p));
  }
  po.tasks = task_specs(o.calib_tasks, Split::kCalibration, o.calib_samples);
  Sensitivity s = run_profile(rt.model, rt.tokenizer, po);
  save_sensitivity(s, path);
  return s;
}

Sensitivity load_sensitivity_for(const std::string& path, const Model& m) {
  KVMIX_CHECK(fs::exists(path), "{}: no such sensitivity file (`kvmix profile` writes one)", path);
  KVMIX_CHECK(!fs::is_directory(path), "{}: is a folder, not a sensitivity file", path);
  Sensitivity s = load_sensitivity(path);
  const KvModelShape shape = model_shape(m);
  check_kv_config_matches(KvConfig{s.model, {}, {}}, shape, path);
  // The hash also covers what the KV shape does not (vocabulary, hidden size, MLP): equal KV shapes
  // of two different models must not share a profile either.
  KVMIX_CHECK(s.model.config_hash.empty() || s.model.config_hash == shape.config_hash,
              "{}: profiled on another model (config hash {}; this model's is {}): run `kvmix profile` "
              "on this model",
              path, s.model.config_hash, shape.config_hash);
  return s;
}

// --- prune, cluster, exact proxy front ----------------------------------------------------------

void add_search_stage_options(CLI::App* sub, SearchStageOptions& o) {
  sub->add_option("--metric", o.metric, "Per-cell error: out, kl, attn, k, v")->capture_default_str();
  sub->add_option("--cluster-threshold", o.cluster_threshold, "Layer merge distance (log10 error)")
      ->capture_default_str();
  sub->add_option("--population", o.population, "Population: NSGA-II's (kvtuner), kvmix's first proxy-front evaluations (multiple of 4, >= 8)")->capture_default_str();
  sub->add_option("--generations", o.generations, "Generations: NSGA-II's (kvtuner); kvmix spends the same population x (1 + generations) evaluations")->capture_default_str();
  sub->add_option("--budget-bits", o.budget_bits, "True bits per element at most (0: no budget)")
      ->capture_default_str();
  sub->add_option("--seed", o.seed, "Search seed")->capture_default_str();
  sub->add_option("--method", o.method,
                  "kvmix (the proxy front, corrected as it measures) or kvtuner (random start: KVTuner's recipe, the baseline)")
      ->check(CLI::IsMember({"kvmix", "kvtuner"}))
      ->capture_default_str();
}

SearchSpace reduce_search_space(const Sensitivity& s, const SearchStageOptions& o) {
  SearchSpace r;
  r.metric = parse_error_metric(o.metric);
  r.candidates = prune_pairs(s, r.metric);
  ClusterOptions co;
  co.threshold = o.cluster_threshold;
  r.clusters = cluster_layers(s, r.candidates, r.metric, co);
  const std::vector<std::vector<size_t>> all(s.cells.size(), [&] {
    std::vector<size_t> every(s.pairs.size());
    for (size_t p = 0; p < every.size(); ++p) every[p] = p;
    return every;
  }());
  r.log10_full = log10_search_space(all);
  r.log10_pruned = log10_search_space(r.candidates);
  r.log10_clustered = log10_search_space(r.clusters);
  r.proxy = exact_proxy_front(s, r.clusters, r.metric);
  spdlog::info("search space: 10^{:.2f} configs, 10^{:.2f} after pruning, 10^{:.2f} over {} clusters; "
               "exact proxy front: {} points",
               r.log10_full, r.log10_pruned, r.log10_clustered, r.clusters.layers.size(), r.proxy.size());
  return r;
}

// --- the search on the calibration KL ------------------------------------------------------------

nlohmann::json search_identity(const std::string& command, const SearchStageOptions& o, const Sensitivity& s,
                               const std::vector<std::string>& calib_tasks, int64_t calib_samples) {
  return {{"command", command},
          {"method", o.method},
          {"scheme", scheme_name(s.scheme)},
          {"metric", o.metric},
          {"cluster_threshold", o.cluster_threshold},
          {"calib_tasks", calib_tasks},
          {"calib_samples", calib_samples},
          {"population", o.population},
          {"seed", o.seed},
          {"model", s.model.config_hash}};
}

SearchStageResult search_stage(const LoadedRuntime& rt, const Sensitivity& s, const SearchSpace& space,
                               const SearchStageOptions& o, const std::vector<TaskSpec>& calib,
                               const nlohmann::json& identity, const std::string& dir,
                               const std::atomic<bool>* stop) {
  ObjectiveOptions oo;
  oo.tasks = calib;
  const ObjectiveEvaluator objective(rt.model, rt.tokenizer, s, oo);
  SearchOptions so;
  so.method = o.method;
  so.population = o.population;
  so.generations = o.generations;
  so.seed = o.seed;
  // K and V elements of one token over all layers: bits per element -> bytes per token.
  const double elems = 2.0 * static_cast<double>(s.model.layers * s.model.kv_heads * s.model.head_dim);
  so.budget_bytes_per_token = o.budget_bits > 0 ? o.budget_bits * elems / 8.0 : 0.0;
  so.journal_path = dir + "/journal.jsonl";
  SearchStageResult r;
  r.resumed = fs::exists(so.journal_path);
  r.front = run_search(s, space.clusters, objective, space.proxy, so, stop, identity);
  save_front(r.front, dir + "/front.json");
  plot_front(r.front, dir + "/front.png");
  if (!r.front.complete)
    spdlog::warn("interrupted: rerun the same command to continue from {}", so.journal_path);
  return r;
}

std::string front_table(const Front& f, const Sensitivity& s, const FrontPoint* chosen) {
  std::string md =
      "| true bytes/token | true bits | nominal bits | calibration KL | per-layer pairs |\n|---:|---:|---:|---:|---|\n";
  for (const auto& p : f.points) {
    std::string names;
    for (size_t pair : p.layer_pairs) names += (names.empty() ? "" : " ") + pair_name(s.pairs.at(pair));
    md += fmt::format("| {:.0f} | {:.3f} | {:.2f} | {:.4f} | {}{} |\n", p.bytes_per_token, p.true_bits,
                      p.nominal_bits, p.kl, names, &p == chosen ? " (chosen)" : "");
  }
  return md;
}

// --- stage times ----------------------------------------------------------------------------------

namespace {

constexpr const char* kTimingSchema = "kvmix.timing";

const StageTime* find_stage(const std::vector<StageTime>& v, const std::string& stage) {
  for (const auto& t : v)
    if (t.stage == stage) return &t;
  return nullptr;
}

}  // namespace

RunTiming::RunTiming(std::string path) : path_(std::move(path)) {
  if (!fs::exists(path_)) return;
  const nlohmann::json j = read_json_file(path_);
  try {
    KVMIX_CHECK(j.is_object() && j.value("schema", "") == kTimingSchema && j.value("version", 0) == 1,
                "{}: not a kvmix timing file (schema {} version 1); delete it to start the record over",
                path_, kTimingSchema);
    for (const auto& e : j.at("stages")) {
      StageTime t;
      t.stage = e.at("stage").get<std::string>();
      t.recorded = !e.at("seconds").is_null();
      t.seconds = t.recorded ? e.at("seconds").get<double>() : 0.0;
      t.reused = e.value("reused", false);
      t.partial = e.value("partial", false);
      KVMIX_CHECK(std::isfinite(t.seconds) && t.seconds >= 0, "{}: stage '{}' has {} seconds", path_, t.stage,
                  t.seconds);
      before_.push_back(t);
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: malformed timing file: {}", path_, e.what()));
  }
}

void RunTiming::record(const std::string& stage, double seconds, StageRun how) {
  StageTime t;
  t.stage = stage;
  t.seconds = seconds;
  t.reused = how == StageRun::kReused;
  const StageTime* old = find_stage(before_, stage);
  if (how == StageRun::kReused) {
    t.seconds = old ? old->seconds : 0.0;
    t.recorded = old && old->recorded;
    t.partial = old && old->partial;
  } else if (how == StageRun::kResumed) {
    // A journal means an earlier run did part of the work, whether or not it left its time.
    t.resumed = true;
    t.partial = !old || !old->recorded || old->partial;
    if (old && old->recorded) t.seconds += old->seconds;
  }
  now_.push_back(t);
  save();
}

void RunTiming::save() const {
  nlohmann::json stages = nlohmann::json::array();
  auto add = [&](const StageTime& t) {
    stages.push_back({{"stage", t.stage},
                      {"seconds", t.recorded ? nlohmann::json(t.seconds) : nlohmann::json(nullptr)},
                      {"reused", t.reused},
                      {"partial", t.partial}});
  };
  for (const auto& t : now_) add(t);
  // Stages this run has not reached yet (interrupted, or still to come) keep their record, so a
  // later resume that reuses them still knows what they cost.
  for (const auto& t : before_)
    if (!find_stage(now_, t.stage)) add(t);
  write_file_atomic(path_, nlohmann::json{{"schema", kTimingSchema}, {"version", 1}, {"stages", stages}}.dump(2) + "\n");
}

std::string RunTiming::markdown_table(double this_run_seconds) const {
  std::string md = "| stage | seconds |\n|---|---:|\n";
  double total = 0;
  for (const auto& t : now_) {
    std::string mark = t.reused ? "reused" : t.resumed ? "resumed, earlier runs included" : "";
    if (t.partial) mark += "; an earlier run kept no time, so at least this";
    if (!mark.empty()) mark = " (" + mark + ")";
    if (t.recorded) {
      md += fmt::format("| {}{} | {:.1f} |\n", t.stage, mark, t.seconds);
      total += t.seconds;
    } else {
      md += fmt::format("| {}{} | not recorded |\n", t.stage, mark);
    }
  }
  md += fmt::format("| total of the stages | {:.1f} |\n", total);
  md += fmt::format("| this run (wall clock) | {:.1f} |\n", this_run_seconds);
  return md;
}

}  // namespace kvmix::app
