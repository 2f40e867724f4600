// cluster_layers on hand-made sensitivities whose log10 distances are known by construction:
// identical error vectors sit at distance 0, a vector scaled by 10^x sits at distance x (the RMS of
// log10 ratios that are all x). Layers with different candidate sets never share a cluster.
#include <catch2/catch.hpp>

#include <cmath>

#include "search/cluster.h"

using namespace kvmix;
using Catch::Matchers::WithinAbs;

namespace {

using Groups = std::vector<std::vector<size_t>>;

// Distances built here are exact up to log10 rounding, far below the margins the thresholds keep.
constexpr double kLogTol = 1e-12;

// errors[l][p] as the attention-output error of each cell; bytes do not enter clustering.
Sensitivity with_errors(const std::vector<std::vector<double>>& errors) {
  Sensitivity s;
  s.model.layers = static_cast<int64_t>(errors.size());
  s.pairs.assign(errors.front().size(), KvPair{});
  for (const auto& row : errors) {
    std::vector<CellStats> cells(row.size());
    for (size_t p = 0; p < row.size(); ++p) cells[p].out_rel_err = row[p];
    s.cells.push_back(cells);
  }
  return s;
}

std::vector<double> scaled(const std::vector<double>& v, double log10_factor) {
  std::vector<double> out;
  for (double x : v) out.push_back(x * std::pow(10.0, log10_factor));
  return out;
}

Clustering cluster(const Sensitivity& s, const Groups& candidates, double threshold, bool enabled = true) {
  ClusterOptions o;
  o.threshold = threshold;
  o.enabled = enabled;
  return cluster_layers(s, candidates, ErrorMetric::kOutRelErr, o);
}

}  // namespace

TEST_CASE("cluster: identical layers merge, a far one stays alone", "[search][cluster]") {
  const std::vector<double> base = {0.4, 0.1, 0.01};
  // Layers 0, 1, 3 identical; layer 2 a thousand times worse on every pair (distance 3).
  const auto s = with_errors({base, base, scaled(base, 3.0), base});
  const Groups all(4, {0, 1, 2});
  const auto c = cluster(s, all, 0.3);
  CHECK(c.layers == Groups{{0, 1, 3}, {2}});
  CHECK(c.candidates == Groups{{0, 1, 2}, {0, 1, 2}});
  CHECK_THAT(log10_search_space(c), WithinAbs(2 * std::log10(3.0), kLogTol));
  // The far layer joins once the threshold passes its distance, not before.
  CHECK(cluster(s, all, 2.9).layers == Groups{{0, 1, 3}, {2}});
  CHECK(cluster(s, all, 3.1).layers == Groups{{0, 1, 2, 3}});
  // Clustering off: every layer decides alone.
  CHECK(cluster(s, all, 0.3, false).layers == Groups{{0}, {1}, {2}, {3}});
}

TEST_CASE("cluster: merging uses average linkage", "[search][cluster]") {
  // Pairwise distances 0.2 (0-1), 0.5 (0-2), 0.3 (1-2). After {0,1} merge, average linkage puts
  // layer 2 at (0.5 + 0.3)/2 = 0.4; single linkage would say 0.3 and complete linkage 0.5.
  const std::vector<double> base = {0.3, 0.05, 0.002};
  const auto s = with_errors({base, scaled(base, 0.2), scaled(base, 0.5)});
  const Groups all(3, {0, 1, 2});
  CHECK(cluster(s, all, 0.15).layers == Groups{{0}, {1}, {2}});
  CHECK(cluster(s, all, 0.35).layers == Groups{{0, 1}, {2}});
  CHECK(cluster(s, all, 0.45).layers == Groups{{0, 1, 2}});
}

TEST_CASE("cluster: layers with different candidate sets never share a cluster", "[search][cluster]") {
  // Set A = {0,1,2} for layers 0, 2, 4; set B = {0,2} for layers 1, 3 (interleaved on purpose).
  // Layers 0 and 2 are identical, layer 4 is a thousand times worse. Layers 1 and 3 agree on pairs
  // 0 and 2 but not on pair 1, which B excludes, so their distance is 0.
  const std::vector<double> base = {0.4, 0.1, 0.01};
  const auto s = with_errors({base, {0.4, 0.9, 0.01}, base, {0.4, 0.0001, 0.01}, scaled(base, 3.0)});
  const Groups cand = {{0, 1, 2}, {0, 2}, {0, 1, 2}, {0, 2}, {0, 1, 2}};

  SECTION("threshold 0: only identical error vectors merge") {
    const auto c = cluster(s, cand, 0.0);
    CHECK(c.layers == Groups{{0, 2}, {1, 3}, {4}});
    CHECK(c.candidates == Groups{{0, 1, 2}, {0, 2}, {0, 1, 2}});
  }
  SECTION("no threshold: exactly one cluster per distinct candidate set") {
    const auto c = cluster(s, cand, 1e9);
    CHECK(c.layers == Groups{{0, 2, 4}, {1, 3}});
    CHECK(c.candidates == Groups{{0, 1, 2}, {0, 2}});
    CHECK_THAT(log10_search_space(c), WithinAbs(std::log10(3.0 * 2.0), kLogTol));
  }
}

TEST_CASE("cluster: a per-cluster choice expands to every layer of the cluster", "[search][cluster]") {
  const std::vector<double> base = {0.4, 0.1, 0.01};
  const auto s = with_errors({base, scaled(base, 3.0), base});
  const auto c = cluster(s, Groups(3, {0, 1, 2}), 0.3);
  REQUIRE(c.layers == Groups{{0, 2}, {1}});
  CHECK(expand_choice(c, {2, 0}, 3) == std::vector<size_t>{2, 0, 2});
}
