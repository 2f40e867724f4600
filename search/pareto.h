#pragma once
// Pareto utilities for minimization of (cost, error) pairs: dominance, the non-dominated subset,
// and the 2-D hypervolume against a reference point (the area dominated by the front and bounded by
// the reference, Zitzler & Thiele 1998). Larger hypervolume = better front.
#include <cstddef>
#include <vector>

namespace kvmix {

struct Point2 {
  double cost;   // e.g. true bytes per token
  double error;  // e.g. KL
};

// a dominates b: no worse in both, strictly better in one.
inline bool dominates(const Point2& a, const Point2& b) {
  return a.cost <= b.cost && a.error <= b.error && (a.cost < b.cost || a.error < b.error);
}

// Indices of the non-dominated points, sorted by cost ascending (duplicates: the first kept).
std::vector<size_t> pareto_indices(const std::vector<Point2>& pts);

// Area dominated by `pts` inside the box below `ref` (points outside the box contribute nothing).
double hypervolume_2d(const std::vector<Point2>& pts, const Point2& ref);

}  // namespace kvmix
