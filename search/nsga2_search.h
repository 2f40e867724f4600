#pragma once
// Search on the real objective with NSGA-II (Deb et al. 2002) from pagmo2: one integer decision per
// layer cluster (an index into the cluster's candidate pairs), objectives (true bytes per token,
// calibration KL), configurations over the byte budget penalized out of the front.
//
// Two methods share this code:
//  - kvmix:   the initial population is the exact proxy front (search/dp_front.h) spread over the
//             budget, so the evolution starts from configurations that are already good, and
//             few generations suffice;
//  - kvtuner: KVTuner's recipe, a random initial population and many generations (the baseline).
// Every full evaluation goes through the journal (search/journal.h): resumable, never repeated.
#include <atomic>
#include <string>
#include <vector>

#include "search/cluster.h"
#include "search/dp_front.h"
#include "search/front.h"
#include "search/objective.h"

namespace kvmix {

struct SearchOptions {
  std::string method = "kvmix";        // "kvmix" (proxy-seeded) or "kvtuner" (random start)
  int64_t population = 8;              // a multiple of 4, at least 8 (pagmo's NSGA-II)
  int64_t generations = 2;
  uint64_t seed = 0;
  double budget_bytes_per_token = 0;   // 0: no budget
  std::string journal_path;
};

// Thrown out of the search when `stop` is set; the journal holds everything finished.
struct SearchInterrupted {};

// Runs the search; returns the front of everything evaluated (complete = false if interrupted).
Front run_search(const Sensitivity& s, const Clustering& c, const ObjectiveEvaluator& objective,
                 const std::vector<ProxyPoint>& proxy_front, const SearchOptions& opt,
                 const std::atomic<bool>* stop, const nlohmann::json& run_identity);

// Picks up to n points spread evenly (by bytes) over the proxy front within the budget.
std::vector<ProxyPoint> spread_seeds(const Sensitivity& s, const std::vector<ProxyPoint>& front,
                                     size_t n, double budget_bytes_per_token);

}  // namespace kvmix
