#pragma once
// What the clustering threshold costs: for each threshold, the number of decisions, the search
// space, and how far the exact proxy front over clusters falls from the exact proxy front with
// every layer deciding alone (the best any clustering can do on the proxy). No model evaluation
// is needed, so the sweep runs in milliseconds from a sensitivity.json; it is how the default
// threshold is chosen (results/cluster_threshold.md).
#include <string>
#include <vector>

#include "search/sensitivity.h"

namespace kvmix {

struct ClusterSweepRow {
  double threshold = 0;
  size_t clusters = 0;
  double log10_space = 0;     // configurations the clustered decisions span
  size_t front_points = 0;    // of the exact proxy front over clusters
  double hypervolume_ratio = 0;  // its hypervolume / the per-layer front's (1: nothing lost)
  // At the bytes of each per-layer front point, the clustered front's best proxy error within
  // those bytes divided by the per-layer point's error: median and worst over the front.
  double median_error_ratio = 0;
  double worst_error_ratio = 0;
};

// candidates: per-layer candidate pair indices (after pruning).
std::vector<ClusterSweepRow> sweep_cluster_threshold(
    const Sensitivity& s, const std::vector<std::vector<size_t>>& candidates, ErrorMetric metric,
    const std::vector<double>& thresholds);

// Markdown table of the rows, with the per-layer reference as the first line.
std::string cluster_sweep_table(const Sensitivity& s,
                                const std::vector<std::vector<size_t>>& candidates,
                                const std::vector<ClusterSweepRow>& rows);

}  // namespace kvmix
