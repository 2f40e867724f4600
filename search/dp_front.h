#pragma once
// The exact Pareto front of the additive proxy: total bytes = sum over layers of the chosen pair's
// bytes, total error = sum of its profiled error. Choosing one option per cluster is a
// multiple-choice knapsack; its whole (bytes, error) front is built by dynamic programming over
// clusters, keeping only non-dominated partial sums (bytes are integers, so the front has at most
// one point per distinct byte total).
#include <cstdint>
#include <vector>

#include "search/cluster.h"
#include "search/sensitivity.h"

namespace kvmix {

struct ProxyPoint {
  int64_t bytes = 0;            // K+V true bytes of all layers at reference_tokens tokens
  double error = 0;             // sum of the per-layer profiled error
  std::vector<size_t> choice;   // pair index (into Sensitivity::pairs) per cluster
};

// Sorted by bytes ascending (error descending). With cluster_weights (one per cluster), cluster
// k's error counts weights[k] times: the corrected proxy of the kvmix search (front_search.h).
std::vector<ProxyPoint> exact_proxy_front(const Sensitivity& s, const Clustering& c, ErrorMetric m,
                                          const std::vector<double>& cluster_weights = {});

// Integer bytes of layer l under pair p at the sensitivity's reference length.
int64_t cell_bytes(const Sensitivity& s, size_t layer, size_t pair);

// Brute force over every combination (tests: the oracle of exact_proxy_front on small cases).
std::vector<ProxyPoint> brute_force_proxy_front(const Sensitivity& s, const Clustering& c, ErrorMetric m);

}  // namespace kvmix
