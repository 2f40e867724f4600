#include "search/dp_front.h"

#include <algorithm>
#include <cmath>

#include "base/error.h"
#include "search/pareto.h"

namespace kvmix {

int64_t cell_bytes(const Sensitivity& s, size_t l, size_t p) {
  return std::llround(s.cells.at(l).at(p).bytes_per_token * static_cast<double>(s.reference_tokens));
}

namespace {

std::vector<ProxyPoint> keep_front(std::vector<ProxyPoint> pts) {
  std::vector<Point2> xy;
  for (const auto& p : pts) xy.push_back({static_cast<double>(p.bytes), p.error});
  std::vector<ProxyPoint> out;
  for (size_t i : pareto_indices(xy)) out.push_back(std::move(pts[i]));
  return out;
}

}  // namespace

std::vector<ProxyPoint> exact_proxy_front(const Sensitivity& s, const Clustering& c, ErrorMetric m,
                                          const std::vector<double>& cluster_weights) {
  KVMIX_CHECK(cluster_weights.empty() || cluster_weights.size() == c.layers.size(),
              "proxy front: {} cluster weights for {} clusters", cluster_weights.size(),
              c.layers.size());
  std::vector<ProxyPoint> front = {ProxyPoint{}};
  for (size_t k = 0; k < c.layers.size(); ++k) {
    const double w = cluster_weights.empty() ? 1.0 : cluster_weights[k];
    std::vector<ProxyPoint> next;
    next.reserve(front.size() * c.candidates[k].size());
    for (const auto& f : front)
      for (size_t p : c.candidates[k]) {
        ProxyPoint q = f;
        for (size_t l : c.layers[k]) {
          q.bytes += cell_bytes(s, l, p);
          q.error += w * cell_error(s.cells[l][p], m);
        }
        q.choice.push_back(p);
        next.push_back(std::move(q));
      }
    front = keep_front(std::move(next));
  }
  return front;
}

std::vector<ProxyPoint> brute_force_proxy_front(const Sensitivity& s, const Clustering& c, ErrorMetric m) {
  std::vector<ProxyPoint> all;
  for (auto& choice : all_choices(c)) {
    ProxyPoint q;
    for (size_t k = 0; k < c.layers.size(); ++k)
      for (size_t l : c.layers[k]) {
        q.bytes += cell_bytes(s, l, choice[k]);
        q.error += cell_error(s.cells[l][choice[k]], m);
      }
    q.choice = std::move(choice);
    all.push_back(std::move(q));
  }
  return keep_front(std::move(all));
}

}  // namespace kvmix
