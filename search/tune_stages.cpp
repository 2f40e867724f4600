#include "search/tune_stages.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <filesystem>
#include <memory>

#include "base/error.h"
#include "lib/kv_config.h"  // check_kv_config_matches
#include "models/model_kv_shape.h"  // kv_shape
#include "search/front_search.h"
#include "search/objective.h"
#include "search/plots.h"
#include "search/profile.h"
#include "search/prune.h"

namespace fs = std::filesystem;

namespace kvmix {

std::vector<TaskSpec> task_specs(const std::vector<std::string>& names, Split split, int64_t samples) {
  KVMIX_CHECK(!names.empty(), "no tasks named");
  std::vector<TaskSpec> t;
  for (const auto& name : names) t.push_back(parse_task(name, split, samples));
  return t;
}

// --- profile ---------------------------------------------------------------------------------

Sensitivity profile_stage(const Model& m, const Tokenizer& tok, const ProfileStageOptions& o,
                          const std::string& path, const std::atomic<bool>* stop,
                          const std::string& checkpoint_path, const std::string& checkpoint_key) {
  ProfileOptions po;
  po.scheme = parse_scheme(o.scheme);
  check_scheme_fits(po.scheme, m.config.head_dim);
  if (!o.pairs.empty()) {
    po.pairs.clear();
    for (const auto& p : o.pairs) {
      const KvPair kp = parse_pair(p);
      for (const KvPair& q : po.pairs)
        KVMIX_CHECK(!(q == kp), "profile: pair {} is named twice in --pairs", pair_name(kp));
      po.pairs.push_back(kp);
    }
  }
  po.tasks = task_specs(o.calib_tasks, Split::kCalibration, o.calib_samples);
  po.stop = stop;
  po.checkpoint_path = checkpoint_path;
  po.checkpoint_key = checkpoint_key;
  Sensitivity s = run_profile(m, tok, po);
  save_sensitivity(s, path);
  return s;
}

Sensitivity load_sensitivity_for(const std::string& path, const Model& m) {
  KVMIX_CHECK(fs::exists(path), "{}: no such sensitivity file (`kvmix profile` writes one)", path);
  KVMIX_CHECK(!fs::is_directory(path), "{}: is a folder, not a sensitivity file", path);
  Sensitivity s = load_sensitivity(path);
  const KvShape shape = kv_shape(m.config);
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

void check_search_stage_options(const SearchStageOptions& o) {
  auto usage = [](bool ok, const std::string& msg) {
    if (!ok) throw UsageError(msg);
  };
  try {
    (void)parse_error_metric(o.metric);
  } catch (const Error& e) {
    throw UsageError(fmt::format("--metric: {}", e.what()));
  }
  usage(std::isfinite(o.cluster_threshold) && o.cluster_threshold >= 0,
        fmt::format("--cluster-threshold must be a finite number >= 0, not {}", o.cluster_threshold));
  usage(o.population >= 8 && o.population % 4 == 0 && o.population <= 4096,
        fmt::format("--population must be a multiple of 4 from 8 to 4096 (pagmo's NSGA-II), not {}", o.population));
  usage(o.generations >= 0 && o.generations <= 100000,
        fmt::format("--generations must be from 0 to 100000, not {}", o.generations));
  usage(o.proposals >= 1 && o.proposals <= 4096, fmt::format("--proposals must be from 1 to 4096, not {}", o.proposals));
  usage(std::isfinite(o.budget_bits) && o.budget_bits >= 0 && o.budget_bits <= 64,
        fmt::format("--budget-bits must be 0 (no budget) or a number of true bits up to 64, not {}", o.budget_bits));
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
          {"method", search_method_option(o.method)},
          {"scheme", scheme_name(s.scheme)},
          {"metric", o.metric},
          {"cluster_threshold", o.cluster_threshold},
          {"calib_tasks", calib_tasks},
          {"calib_samples", calib_samples},
          {"population", o.population},
          {"seed", o.seed},
          {"model", s.model.config_hash}};
}

SearchStageResult search_stage(const Model& m, const Tokenizer& tok, const Sensitivity& s,
                               const SearchSpace& space, const SearchStageOptions& o,
                               const std::vector<TaskSpec>& calib, const nlohmann::json& identity,
                               const std::string& dir, const std::atomic<bool>* stop,
                               const Objective* given) {
  std::unique_ptr<ObjectiveEvaluator> own;
  if (!given) {
    ObjectiveOptions oo;
    oo.tasks = calib;
    own = std::make_unique<ObjectiveEvaluator>(m, tok, s, oo);
  }
  const Objective& objective = given ? *given : *own;
  SearchOptions so;
  so.method = o.method;
  so.population = o.population;
  so.generations = o.generations;
  so.batch = o.proposals;
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

}  // namespace kvmix
