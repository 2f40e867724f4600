#pragma once
// The stages `kvmix tune` chains, shared with the commands that run them one at a time:
// `kvmix profile` (sensitivity.json) and `kvmix search` (prune, cluster, exact proxy front, the
// search with its journal, front.json). What a stage computes and the files it writes live here
// once; the flags that fill these options live in apps/kvmix/stage_options.h.
#include <nlohmann/json.hpp>

#include <atomic>
#include <string>
#include <vector>

#include "lib/tokenizer/tokenizer.h"
#include "models/model.h"
#include "search/cluster.h"
#include "search/dp_front.h"
#include "search/front.h"
#include "search/objective.h"
#include "search/search_method.h"
#include "search/sensitivity.h"
#include "search/task_data.h"

namespace kvmix {

std::vector<TaskSpec> task_specs(const std::vector<std::string>& names, Split split, int64_t samples);

// --- profile ---------------------------------------------------------------------------------

struct ProfileStageOptions {
  std::string scheme = "kivi";
  std::vector<std::string> pairs;  // default: KVTuner's nine
  std::vector<std::string> calib_tasks = {"arith", "recall", "text"};
  int64_t calib_samples = 8;
};

// Profiles every (layer, pair) cell on the calibration split and writes sensitivity.json at
// `path` atomically. `stop` and the checkpoint: see ProfileOptions (search/profile.h).
Sensitivity profile_stage(const Model& m, const Tokenizer& tok, const ProfileStageOptions& o,
                          const std::string& path, const std::atomic<bool>* stop = nullptr,
                          const std::string& checkpoint_path = "", const std::string& checkpoint_key = "");

// Reads a sensitivity file for model `m`. A missing file, or one made for another model (shape or
// config hash), is a kvmix::Error naming the file.
Sensitivity load_sensitivity_for(const std::string& path, const Model& m);

// --- prune, cluster, exact proxy front ----------------------------------------------------------

struct SearchStageOptions {
  std::string metric = "out";   // per-cell error for prune, cluster and the proxy
  double cluster_threshold = 0.3;
  int64_t population = 8;
  int64_t generations = 2;
  int64_t proposals = 1;        // kvmix method: configurations proposed per round (SearchOptions::batch)
  double budget_bits = 0;       // true bits per element, 0: none
  uint64_t seed = 0;
  SearchMethod method = SearchMethod::kKvmix;  // or kvtuner: random start, no proxy seeding
};

// The decisions the search chooses among, and how much each reduction shrank them.
struct SearchSpace {
  ErrorMetric metric = ErrorMetric::kOutRelErr;
  std::vector<std::vector<size_t>> candidates;  // per layer, after pruning
  Clustering clusters;
  double log10_full = 0, log10_pruned = 0, log10_clustered = 0;  // log10 of the configurations
  std::vector<ProxyPoint> proxy;                // exact front of the additive proxy
};

// A kvmix::UsageError naming the first bad option (metric, threshold, population, budget).
void check_search_stage_options(const SearchStageOptions& o);

SearchSpace reduce_search_space(const Sensitivity& s, const SearchStageOptions& o);

// --- the search on the calibration KL ------------------------------------------------------------

// What names a search run in its journal header: a journal written under another identity is
// refused rather than mixed in.
nlohmann::json search_identity(const std::string& command, const SearchStageOptions& o, const Sensitivity& s,
                               const std::vector<std::string>& calib_tasks, int64_t calib_samples);

struct SearchStageResult {
  Front front;
  bool resumed = false;  // a journal from an earlier run was there and replayed
};

// Runs the search (journal at dir/journal.jsonl, resumed when present) and writes dir/front.json and
// dir/front.png. front.complete is false when stop was set. `objective`, when given, answers in
// place of the model on `calib` (a table of an exhaustive evaluation, search/objective_table.h).
SearchStageResult search_stage(const Model& m, const Tokenizer& tok, const Sensitivity& s,
                               const SearchSpace& space, const SearchStageOptions& o,
                               const std::vector<TaskSpec>& calib, const nlohmann::json& identity,
                               const std::string& dir, const std::atomic<bool>* stop,
                               const Objective* objective = nullptr);

// Markdown table of the front's points (bytes, bits, KL, per-layer pairs); `chosen` is marked.
std::string front_table(const Front& f, const Sensitivity& s, const FrontPoint* chosen = nullptr);

}  // namespace kvmix
