#pragma once
// Cluster: layers that share a decision. First layers are grouped by identical candidate sets
// (after pruning), then, within a group, merged by agglomerative clustering with average linkage
// on the distance between their error vectors: the RMS difference of log10(error) over the
// group's candidate pairs. log10 makes the distance a ratio: 0.3 means errors differ by a factor
// of about 2 on a typical pair. Layers of one cluster then take the same pair.
#include <cstddef>
#include <vector>

#include "search/sensitivity.h"

namespace kvmix {

struct ClusterOptions {
  double threshold = 0.3;  // merge while the closest clusters are within this distance (log10)
  bool enabled = true;     // false: every layer its own cluster (candidate-set grouping skipped)
};

struct Clustering {
  std::vector<std::vector<size_t>> layers;      // layers of each cluster, ascending
  std::vector<std::vector<size_t>> candidates;  // shared candidate pair indices of each cluster
};

Clustering cluster_layers(const Sensitivity& s, const std::vector<std::vector<size_t>>& candidates,
                          ErrorMetric metric, const ClusterOptions& opt);

// log10 of the number of configurations the decisions span.
double log10_search_space(const Clustering& c);
double log10_search_space(const std::vector<std::vector<size_t>>& per_layer_candidates);

// Every choice of one candidate pair per cluster (pair indices, one per cluster), the first cluster
// varying fastest: the whole space, for callers that know it is small.
std::vector<std::vector<size_t>> all_choices(const Clustering& c);

// Per-layer pair indices from one pair index per cluster.
std::vector<size_t> expand_choice(const Clustering& c, const std::vector<size_t>& per_cluster,
                                  size_t layers);

}  // namespace kvmix
