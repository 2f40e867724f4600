#include "search/prune.h"

#include "search/pareto.h"

namespace kvmix {

std::vector<std::vector<size_t>> prune_pairs(const Sensitivity& s, ErrorMetric metric) {
  std::vector<std::vector<size_t>> out;
  for (const auto& row : s.cells) {
    std::vector<Point2> pts;
    for (const auto& c : row) pts.push_back({c.bytes_per_token, cell_error(c, metric)});
    out.push_back(pareto_indices(pts));
  }
  return out;
}

}  // namespace kvmix
