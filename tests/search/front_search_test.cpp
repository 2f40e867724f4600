// The search's exact pieces against independent oracles: the DP proxy front against brute force
// over every combination, pruning against a hand-checked case, 2-D hypervolume against pagmo2's
// hypervolume and a hand-computed area, clustering's search-space count by hand.
#include <catch2/catch.hpp>

#include <pagmo/utils/hypervolume.hpp>

#include <random>

#include "search/cluster.h"
#include "search/dp_front.h"
#include "search/pareto.h"
#include "search/prune.h"

using namespace kvmix;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;

namespace {

// Random cells: bytes grow with the pair index, errors are random (so pruning has work to do).
Sensitivity random_sensitivity(size_t layers, size_t pairs, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Sensitivity s;
  s.model.layers = static_cast<int64_t>(layers);
  s.reference_tokens = 16;
  s.pairs.assign(pairs, KvPair{});
  s.cells.assign(layers, std::vector<CellStats>(pairs));
  for (auto& row : s.cells)
    for (size_t p = 0; p < pairs; ++p) {
      row[p].bytes_per_token = static_cast<double>(2 + p * 3 + (rng() % 3)) / 16.0 * 4.0;
      row[p].out_rel_err = u(rng);
    }
  return s;
}

Clustering singletons(const Sensitivity& s, const std::vector<std::vector<size_t>>& cand) {
  Clustering c;
  for (size_t l = 0; l < s.cells.size(); ++l) c.layers.push_back({l}), c.candidates.push_back(cand[l]);
  return c;
}

}  // namespace

TEST_CASE("exact proxy front equals the brute-force front", "[search]") {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    const auto s = random_sensitivity(4, 4, seed);
    std::vector<std::vector<size_t>> all(4, std::vector<size_t>{0, 1, 2, 3});
    const auto c = singletons(s, all);
    const auto dp = exact_proxy_front(s, c, ErrorMetric::kOutRelErr);
    const auto bf = brute_force_proxy_front(s, c, ErrorMetric::kOutRelErr);
    REQUIRE(dp.size() == bf.size());
    for (size_t i = 0; i < dp.size(); ++i) {
      CHECK(dp[i].bytes == bf[i].bytes);
      CHECK_THAT(dp[i].error, WithinAbs(bf[i].error, 1e-12));
    }
  }
}

TEST_CASE("pruning keeps a layer's non-dominated pairs only", "[search]") {
  Sensitivity s;
  s.model.layers = 1;
  s.pairs.assign(4, KvPair{});
  s.cells.assign(1, std::vector<CellStats>(4));
  // bytes 1, 2, 3, 4 with errors 0.5, 0.6 (dominated by pair 0), 0.2, 0.2 (dominated by pair 2)
  const double bytes[] = {1, 2, 3, 4}, err[] = {0.5, 0.6, 0.2, 0.2};
  for (size_t p = 0; p < 4; ++p) s.cells[0][p].bytes_per_token = bytes[p], s.cells[0][p].out_rel_err = err[p];
  CHECK(prune_pairs(s, ErrorMetric::kOutRelErr) == std::vector<std::vector<size_t>>{{0, 2}});
}

TEST_CASE("pruning does not change the exact front", "[search]") {
  for (uint32_t seed = 30; seed < 40; ++seed) {
    const auto s = random_sensitivity(3, 5, seed);
    std::vector<std::vector<size_t>> all(3, std::vector<size_t>{0, 1, 2, 3, 4});
    const auto full = exact_proxy_front(s, singletons(s, all), ErrorMetric::kOutRelErr);
    const auto pruned = exact_proxy_front(s, singletons(s, prune_pairs(s, ErrorMetric::kOutRelErr)),
                                          ErrorMetric::kOutRelErr);
    REQUIRE(full.size() == pruned.size());
    for (size_t i = 0; i < full.size(); ++i) CHECK(full[i].bytes == pruned[i].bytes);
  }
}

TEST_CASE("2-D hypervolume: a hand-computed staircase and pagmo2 agree", "[search]") {
  // Points (1,3), (2,1) under reference (4,4): [1,2]x[3,4] + [2,4]x[1,4] = 1 + 6 = 7.
  CHECK_THAT(hypervolume_2d({{1, 3}, {2, 1}}, {4, 4}), WithinAbs(7.0, 1e-12));
  // A dominated point and one outside the box change nothing.
  CHECK_THAT(hypervolume_2d({{1, 3}, {2, 1}, {3, 3}, {5, 0.5}}, {4, 4}), WithinAbs(7.0, 1e-12));

  std::mt19937 rng(7);
  std::uniform_real_distribution<double> u(0.0, 10.0);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<Point2> pts;
    std::vector<pagmo::vector_double> pv;
    for (int i = 0; i < 12; ++i) {
      Point2 p{u(rng), u(rng)};
      pts.push_back(p);
      pv.push_back({p.cost, p.error});
    }
    pagmo::hypervolume hv(pv, false);
    CHECK_THAT(hypervolume_2d(pts, {10.5, 10.5}), WithinRel(hv.compute({10.5, 10.5}), 1e-9));
  }
}

TEST_CASE("search space counts the product of candidate set sizes", "[search]") {
  CHECK_THAT(log10_search_space(std::vector<std::vector<size_t>>{{0, 1}, {0, 1, 2, 3, 4}, {0}}),
             WithinAbs(1.0, 1e-12));
}
