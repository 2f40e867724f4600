#include "search/cluster.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

namespace kvmix {
namespace {

// Floor so that an exactly-zero error (a lossless pair) does not make log10 infinite.
constexpr double kErrorFloor = 1e-12;

double distance(const Sensitivity& s, ErrorMetric m, const std::vector<size_t>& pairs,
                const std::vector<size_t>& a, const std::vector<size_t>& b) {
  // average linkage: mean over layer pairs of the RMS log-error difference
  double total = 0;
  for (size_t la : a)
    for (size_t lb : b) {
      double sq = 0;
      for (size_t p : pairs) {
        const double ea = std::log10(std::max(cell_error(s.cells[la][p], m), kErrorFloor));
        const double eb = std::log10(std::max(cell_error(s.cells[lb][p], m), kErrorFloor));
        sq += (ea - eb) * (ea - eb);
      }
      total += std::sqrt(sq / static_cast<double>(std::max<size_t>(1, pairs.size())));
    }
  return total / static_cast<double>(a.size() * b.size());
}

}  // namespace

Clustering cluster_layers(const Sensitivity& s, const std::vector<std::vector<size_t>>& candidates,
                          ErrorMetric metric, const ClusterOptions& opt) {
  Clustering out;
  if (!opt.enabled) {
    for (size_t l = 0; l < candidates.size(); ++l) {
      out.layers.push_back({l});
      out.candidates.push_back(candidates[l]);
    }
    return out;
  }
  std::map<std::vector<size_t>, std::vector<size_t>> groups;  // candidate set -> layers
  for (size_t l = 0; l < candidates.size(); ++l) {
    auto key = candidates[l];
    std::sort(key.begin(), key.end());
    groups[key].push_back(l);
  }
  for (const auto& [pairs, layers] : groups) {
    std::vector<std::vector<size_t>> cl;
    for (size_t l : layers) cl.push_back({l});
    while (cl.size() > 1) {
      double best = std::numeric_limits<double>::infinity();
      size_t bi = 0, bj = 0;
      for (size_t i = 0; i < cl.size(); ++i)
        for (size_t j = i + 1; j < cl.size(); ++j) {
          const double d = distance(s, metric, pairs, cl[i], cl[j]);
          if (d < best) best = d, bi = i, bj = j;
        }
      if (best > opt.threshold) break;
      cl[bi].insert(cl[bi].end(), cl[bj].begin(), cl[bj].end());
      std::sort(cl[bi].begin(), cl[bi].end());
      cl.erase(cl.begin() + static_cast<long>(bj));
    }
    for (auto& c : cl) {
      out.layers.push_back(c);
      out.candidates.push_back(candidates[c.front()]);  // bytes-ascending order of the first layer
    }
  }
  // Present clusters in layer order.
  std::vector<size_t> order(out.layers.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return out.layers[a][0] < out.layers[b][0]; });
  Clustering sorted;
  for (size_t i : order) {
    sorted.layers.push_back(out.layers[i]);
    sorted.candidates.push_back(out.candidates[i]);
  }
  return sorted;
}

double log10_search_space(const Clustering& c) { return log10_search_space(c.candidates); }

double log10_search_space(const std::vector<std::vector<size_t>>& cands) {
  double s = 0;
  for (const auto& c : cands) s += std::log10(static_cast<double>(std::max<size_t>(1, c.size())));
  return s;
}

std::vector<std::vector<size_t>> all_choices(const Clustering& c) {
  std::vector<std::vector<size_t>> out;
  std::vector<size_t> idx(c.candidates.size(), 0);
  while (true) {
    std::vector<size_t> choice;
    for (size_t k = 0; k < idx.size(); ++k) choice.push_back(c.candidates[k][idx[k]]);
    out.push_back(std::move(choice));
    size_t k = 0;
    while (k < idx.size() && ++idx[k] == c.candidates[k].size()) idx[k++] = 0;
    if (k == idx.size()) break;
  }
  return out;
}

std::vector<size_t> expand_choice(const Clustering& c, const std::vector<size_t>& per_cluster,
                                  size_t layers) {
  std::vector<size_t> out(layers, 0);
  for (size_t k = 0; k < c.layers.size(); ++k)
    for (size_t l : c.layers[k]) out[l] = per_cluster.at(k);
  return out;
}

}  // namespace kvmix
