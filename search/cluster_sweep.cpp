#include "search/cluster_sweep.h"

#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <limits>

#include "search/cluster.h"
#include "search/dp_front.h"
#include "search/pareto.h"

namespace kvmix {
namespace {

std::vector<Point2> points(const std::vector<ProxyPoint>& front) {
  std::vector<Point2> p;
  for (const auto& q : front) p.push_back({static_cast<double>(q.bytes), q.error});
  return p;
}

// Lowest error among front points (sorted by bytes ascending) with at most `bytes`; +inf if none.
double best_within(const std::vector<ProxyPoint>& front, int64_t bytes) {
  double best = std::numeric_limits<double>::infinity();
  for (const auto& q : front)
    if (q.bytes <= bytes) best = std::min(best, q.error);
  return best;
}

}  // namespace

std::vector<ClusterSweepRow> sweep_cluster_threshold(
    const Sensitivity& s, const std::vector<std::vector<size_t>>& candidates, ErrorMetric metric,
    const std::vector<double>& thresholds) {
  ClusterOptions alone;
  alone.enabled = false;
  const auto reference = exact_proxy_front(s, cluster_layers(s, candidates, metric, alone), metric);
  // The box of the hypervolume: just beyond the per-layer front's largest bytes and error, so
  // every front point of every threshold counts (a clustered front spans no more than that).
  double max_bytes = 0, max_error = 0;
  for (const auto& q : reference) {
    max_bytes = std::max(max_bytes, static_cast<double>(q.bytes));
    max_error = std::max(max_error, q.error);
  }
  const Point2 ref{max_bytes * 1.01 + 1.0, max_error * 1.01 + 1e-12};
  const double hv_reference = hypervolume_2d(points(reference), ref);

  std::vector<ClusterSweepRow> rows;
  for (double t : thresholds) {
    ClusterOptions co;
    co.threshold = t;
    const Clustering c = cluster_layers(s, candidates, metric, co);
    const auto front = exact_proxy_front(s, c, metric);
    ClusterSweepRow r;
    r.threshold = t;
    r.clusters = c.layers.size();
    r.log10_space = log10_search_space(c);
    r.front_points = front.size();
    r.hypervolume_ratio = hv_reference > 0 ? hypervolume_2d(points(front), ref) / hv_reference : 1.0;
    std::vector<double> ratios;
    for (const auto& q : reference) {
      const double mine = best_within(front, q.bytes);
      ratios.push_back(q.error > 0 ? mine / q.error : (mine > 0 ? std::numeric_limits<double>::infinity() : 1.0));
    }
    std::sort(ratios.begin(), ratios.end());
    r.median_error_ratio = ratios.empty() ? 1.0 : ratios[ratios.size() / 2];
    r.worst_error_ratio = ratios.empty() ? 1.0 : ratios.back();
    rows.push_back(r);
  }
  return rows;
}

std::string cluster_sweep_table(const Sensitivity& s,
                                const std::vector<std::vector<size_t>>& candidates,
                                const std::vector<ClusterSweepRow>& rows) {
  std::string md =
      "| threshold | clusters | search space | proxy front points | proxy hypervolume | "
      "median error ratio | worst error ratio |\n|---:|---:|---:|---:|---:|---:|---:|\n";
  md += fmt::format("| per layer | {} | 10^{:.2f} | | 1.000 | 1.00 | 1.00 |\n", s.cells.size(),
                    log10_search_space(candidates));
  for (const auto& r : rows)
    md += fmt::format("| {} | {} | 10^{:.2f} | {} | {:.3f} | {:.2f} | {:.2f} |\n", r.threshold,
                      r.clusters, r.log10_space, r.front_points, r.hypervolume_ratio,
                      r.median_error_ratio, r.worst_error_ratio);
  return md;
}

}  // namespace kvmix
