#pragma once
// The stages `kvmix tune` chains, shared with the commands that run them one at a time:
// `kvmix profile` (sensitivity.json) and `kvmix search` (prune, cluster, exact proxy front,
// NSGA-II with its journal, front.json). Each command keeps its own flags and output layout; what
// a stage computes, the flags it takes and the files it writes live here once.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "apps/kvmix/model_options.h"  // LoadedRuntime
#include "search/cluster.h"
#include "search/dp_front.h"
#include "search/front.h"
#include "search/sensitivity.h"
#include "search/task_data.h"

namespace kvmix::app {

// Set by SIGINT once installed: the search stops after the evaluation in flight, the journal
// keeps everything finished, and the command exits 130 so that a rerun continues.
const std::atomic<bool>& stop_on_sigint();

double seconds_since(std::chrono::steady_clock::time_point t);

std::vector<TaskSpec> task_specs(const std::vector<std::string>& names, Split split, int64_t samples);

// --- profile ---------------------------------------------------------------------------------

struct ProfileStageOptions {
  std::string scheme = "kivi";
  std::vector<std::string> pairs;  // default: KVTuner's nine
  std::vector<std::string> calib_tasks = {"arith", "recall", "text"};
  int64_t calib_samples = 8;
};

void add_profile_stage_options(CLI::App* sub, ProfileStageOptions& o);

// Profiles every (layer, pair) cell on the calibration split and writes sensitivity.json at
// `path` atomically.
Sensitivity profile_stage(const LoadedRuntime& rt, const ProfileStageOptions& o, const std::string& path);

// Reads a sensitivity file for the model that `rt` holds. A missing file, or one made for another
// model (shape or config hash), is a kvmix::Error naming the file.
Sensitivity load_sensitivity_for(const std::string& path, const Model& m);

// --- prune, cluster, exact proxy front ----------------------------------------------------------

struct SearchStageOptions {
  std::string metric = "out";   // per-cell error for prune, cluster and the proxy
  double cluster_threshold = 0.3;
  int64_t population = 8;
  int64_t generations = 2;
  double budget_bits = 0;       // true bits per element, 0: none
  uint64_t seed = 0;
  std::string method = "kvmix"; // or "kvtuner": random start, no proxy seeding (the baseline)
};

void add_search_stage_options(CLI::App* sub, SearchStageOptions& o);

// The decisions the search chooses among, and how much each reduction shrank them.
struct SearchSpace {
  ErrorMetric metric = ErrorMetric::kOutRelErr;
  std::vector<std::vector<size_t>> candidates;  // per layer, after pruning
  Clustering clusters;
  double log10_full = 0, log10_pruned = 0, log10_clustered = 0;  // log10 of the configurations
  std::vector<ProxyPoint> proxy;                // exact front of the additive proxy
};

SearchSpace reduce_search_space(const Sensitivity& s, const SearchStageOptions& o);

// --- NSGA-II on the calibration KL ---------------------------------------------------------------

// What names a search run in its journal header: a journal written under another identity is
// refused rather than mixed in.
nlohmann::json search_identity(const std::string& command, const SearchStageOptions& o, const Sensitivity& s,
                               const std::vector<std::string>& calib_tasks, int64_t calib_samples);

struct SearchStageResult {
  Front front;
  bool resumed = false;  // a journal from an earlier run was there and replayed
};

// Runs NSGA-II (journal at dir/journal.jsonl, resumed when present) and writes dir/front.json and
// dir/front.png. front.complete is false when stop was set.
SearchStageResult search_stage(const LoadedRuntime& rt, const Sensitivity& s, const SearchSpace& space,
                               const SearchStageOptions& o, const std::vector<TaskSpec>& calib,
                               const nlohmann::json& identity, const std::string& dir,
                               const std::atomic<bool>* stop);

// Markdown table of the front's points (bytes, bits, KL, per-layer pairs); `chosen` is marked.
std::string front_table(const Front& f, const Sensitivity& s, const FrontPoint* chosen = nullptr);

// --- stage times of a run folder (timing.json, schema kvmix.timing version 1) -----------------

struct StageTime {
  std::string stage;
  double seconds = 0;   // compute spent on the stage, over every run of the folder
  bool recorded = true; // false: reused from a run that kept no timing.json
  bool reused = false;  // this run read the stage's output back instead of computing it
  bool resumed = false; // this run continued a journal: seconds include earlier runs' (not saved)
  bool partial = false; // an earlier run of the stage kept no timing.json: its seconds are missing
};

// How this run got a stage's output.
enum class StageRun {
  kRan,      // computed from scratch: this run's seconds replace any record
  kReused,   // read back: the recorded seconds stand
  kResumed,  // continued from a journal: this run's seconds add to the recorded ones
};

class RunTiming {
 public:
  // Reads `path` when it exists (an earlier run of the folder); stages are recorded into it.
  explicit RunTiming(std::string path);
  void record(const std::string& stage, double seconds, StageRun how);
  std::string markdown_table(double this_run_seconds) const;

 private:
  void save() const;
  std::string path_;
  std::vector<StageTime> before_;  // as the earlier run left them
  std::vector<StageTime> now_;     // this run's account, written after every stage
};

}  // namespace kvmix::app
