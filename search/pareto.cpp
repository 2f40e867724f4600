#include "search/pareto.h"

#include <algorithm>
#include <numeric>

namespace kvmix {

std::vector<size_t> pareto_indices(const std::vector<Point2>& pts) {
  std::vector<size_t> order(pts.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return pts[a].cost < pts[b].cost || (pts[a].cost == pts[b].cost && pts[a].error < pts[b].error);
  });
  std::vector<size_t> front;
  double best = 0;
  for (size_t i : order) {
    if (front.empty() || pts[i].error < best) {
      if (!front.empty() && pts[front.back()].cost == pts[i].cost) continue;
      front.push_back(i);
      best = pts[i].error;
    }
  }
  return front;
}

double hypervolume_2d(const std::vector<Point2>& pts, const Point2& ref) {
  std::vector<Point2> in;
  for (const auto& p : pts)
    if (p.cost < ref.cost && p.error < ref.error) in.push_back(p);
  std::vector<Point2> front;
  for (size_t i : pareto_indices(in)) front.push_back(in[i]);
  double area = 0;
  for (size_t i = 0; i < front.size(); ++i) {
    const double next_cost = i + 1 < front.size() ? front[i + 1].cost : ref.cost;
    area += (next_cost - front[i].cost) * (ref.error - front[i].error);
  }
  return area;
}

}  // namespace kvmix
