#pragma once
// The search for a front (search/front.h) on the real objective: one integer decision per layer
// cluster (an index into the cluster's candidate pairs), objectives (true bytes per token,
// calibration KL), configurations over the byte budget kept out of the front.
//
// Two methods (search/search_method.h) share this code:
//  - kvmix:   `population` points of the exact proxy front (search/dp_front.h) spread over the
//             budget are evaluated first; then, one evaluation at a time, a corrected proxy (each
//             cluster's profiled single-layer KL reweighted to fit the KL measured so far) picks
//             the configuration whose predicted point would add the most hypervolume. NSGA-II is
//             not run: the proxy already ranks configurations, what it lacks is calibration, and
//             each measurement recalibrates it. The same number of full evaluations as the
//             NSGA-II budget, population x (1 + generations);
//  - kvtuner: KVTuner's recipe, NSGA-II (Deb et al. 2002, from pagmo2) from a random initial
//             population over many generations (the baseline).
// Every full evaluation goes through the journal (search/journal.h): resumable, never repeated.
#include <atomic>
#include <string>
#include <vector>

#include "search/cluster.h"
#include "search/dp_front.h"
#include "search/front.h"
#include "search/objective.h"
#include "search/search_method.h"

namespace kvmix {

struct SearchOptions {
  SearchMethod method = SearchMethod::kKvmix;  // proxy-seeded, or kvtuner's random start
  int64_t population = 8;              // a multiple of 4, at least 8 (pagmo's NSGA-II)
  int64_t generations = 2;
  uint64_t seed = 0;
  double budget_bytes_per_token = 0;   // 0: no budget
  std::string journal_path;
  // kvmix method: configurations the corrected proxy picks per round, evaluated together (over
  // the ranks of an MPI job). The seeds are one batch, and NSGA-II's generations, whatever this is.
  int64_t batch = 1;
};

// Thrown out of the search when `stop` is set; the journal holds everything finished.
struct SearchInterrupted {};

// Runs the search; returns the front of everything evaluated (complete = false if interrupted).
Front run_search(const Sensitivity& s, const Clustering& c, const Objective& objective,
                 const std::vector<ProxyPoint>& proxy_front, const SearchOptions& opt,
                 const std::atomic<bool>* stop, const nlohmann::json& run_identity);

// The corrected proxy of the kvmix method: predicted KL = sum over clusters k of weights[k] x
// features[k], features[k] being the cluster's profiled error under its chosen pair. Fitted to the
// evaluated trials (rows of `features`, measured `kl`) by nonnegative least squares on relative
// residuals, so a KL of 1e-3 counts as much as one of 0.5, with a ridge of strength `ridge` pulling
// every weight toward the one common scale that fits best: with fewer trials than clusters the fit
// stays the plain proxy, rescaled. Trials with a KL of zero carry no ratio and are skipped.
std::vector<double> fit_cluster_weights(const std::vector<std::vector<double>>& features,
                                        const std::vector<double>& kl, double ridge = 0.1);

// Picks up to n points spread evenly (by bytes) over the proxy front within the budget.
std::vector<ProxyPoint> spread_seeds(const Sensitivity& s, const std::vector<ProxyPoint>& front,
                                     size_t n, double budget_bytes_per_token);

}  // namespace kvmix
