#pragma once
// The ground truth of a search space: every configuration of a clustered, pruned space evaluated
// on the search's own objective (calibration KL, true bytes per token). Its non-dominated points
// are the true front, and their hypervolume the ceiling any search method over the same space is
// measured against (results/search/README.md). Only a small space can be enumerated: the
// built-in model's default clustered space has about 10^3 configurations.
//
// Evaluations go through the search journal (search/journal.h) with the run's identity as its
// header, so the same command run again resumes where a killed or interrupted run stopped, and a
// run with other options (metric, threshold, calibration data, pairs, model) refuses the journal
// rather than reusing its results. exhaustive.json (schema kvmix.exhaustive version 1) holds every
// configuration and its objective, the clusters that define the space and the true front; it is
// written atomically, also when interrupted (then "complete" is false).
#include <nlohmann/json.hpp>

#include <atomic>
#include <string>
#include <vector>

#include "search/cluster.h"
#include "search/journal.h"
#include "search/objective.h"
#include "search/pareto.h"
#include "search/sensitivity.h"

namespace kvmix {

// Bound on the configurations an exhaustive evaluation enumerates (and a file may hold): beyond it
// the evaluation would take weeks, and a file claiming more is refused before anything is
// allocated. 10^5.90, the built-in model's unclustered pruned space, is above it on purpose.
inline constexpr double kMaxExhaustiveLog10 = 5.0;

struct ExhaustiveTable {
  nlohmann::json run;             // the identity of the run (the journal's header)
  Clustering clusters;            // the space: layers and candidate pair indices of each cluster
  std::vector<Trial> trials;      // configurations evaluated, in enumeration order (all_choices)
  int64_t space_size = 0;         // configurations in the space
  Point2 hv_reference;            // (full-precision bytes per token, 1 nat), as the search's
  bool complete = false;          // every configuration evaluated
};

// Number of configurations of a clustering (a kvmix::Error past kMaxExhaustiveLog10).
int64_t exhaustive_space_size(const Clustering& c);

// Evaluates every configuration of `c` not yet in the journal at `journal_path` (created, or
// replayed when its header is `identity`; another header is refused), in the order of
// all_choices, `jobs` at a time (the objective must then be safe to call from several threads, as
// the model-backed one is: it only reads the model and its reference log-probabilities). Stops before
// the next evaluation when `stop` is set (complete = false); the table lists what was evaluated.
ExhaustiveTable run_exhaustive(const Sensitivity& s, const Clustering& c, const Objective& objective,
                               const std::string& journal_path, const nlohmann::json& identity,
                               const std::atomic<bool>* stop, int jobs = 1, bool progress = true);

// Indices into t.trials of the true front (non-dominated on bytes and KL), by bytes ascending.
std::vector<size_t> exhaustive_front(const ExhaustiveTable& t);
double exhaustive_hypervolume(const ExhaustiveTable& t);

nlohmann::json exhaustive_to_json(const Sensitivity& s, const ExhaustiveTable& t);
// Checks everything against the profile `s` the space was made from, naming `source` and the
// field: schema and version; pair names equal to s's; clusters that cover every layer once with
// candidates among the pairs; every configuration within its clusters' candidates, once, with its
// bytes recomputed from its pairs, a finite KL >= 0; the front and hypervolume recomputed and
// compared; a complete table holding every configuration of the space.
ExhaustiveTable exhaustive_from_json(const nlohmann::json& j, const Sensitivity& s,
                                     const std::string& source);
ExhaustiveTable load_exhaustive(const std::string& path, const Sensitivity& s);
void save_exhaustive(const Sensitivity& s, const ExhaustiveTable& t, const std::string& path);

}  // namespace kvmix
