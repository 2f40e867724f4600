// prune_pairs against hand-checked layers and against the definition of dominance applied by
// brute force (every pair against every other) on random layers.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>

#include "search/pareto.h"
#include "search/prune.h"

using namespace kvmix;

namespace {

using Kept = std::vector<std::vector<size_t>>;

struct Cell {
  double bytes, out_err, kl;
};

Sensitivity with_cells(const std::vector<std::vector<Cell>>& layers) {
  Sensitivity s;
  s.model.layers = static_cast<int64_t>(layers.size());
  s.pairs.assign(layers.front().size(), KvPair{});
  for (const auto& row : layers) {
    std::vector<CellStats> cells(row.size());
    for (size_t p = 0; p < row.size(); ++p) {
      cells[p].bytes_per_token = row[p].bytes;
      cells[p].out_rel_err = row[p].out_err;
      cells[p].kl = row[p].kl;
    }
    s.cells.push_back(cells);
  }
  return s;
}

}  // namespace

TEST_CASE("prune: a dominated pair is dropped, per layer", "[search][prune]") {
  // Pairs listed out of byte order on purpose. Layer 0: pair 0 (bytes 48, err 0.5) is dominated by
  // pair 2 (bytes 40, err 0.3): more bytes and more error. Layer 1: nothing dominated.
  const auto s = with_cells({
      {{48, 0.5, 0}, {80, 0.1, 0}, {40, 0.3, 0}},
      {{48, 0.2, 0}, {80, 0.1, 0}, {40, 0.3, 0}},
  });
  // Kept pairs come sorted by bytes ascending.
  CHECK(prune_pairs(s, ErrorMetric::kOutRelErr) == Kept{{2, 1}, {2, 0, 1}});
}

TEST_CASE("prune: ties on bytes keep the lower error, exact duplicates keep the first", "[search][prune]") {
  const auto s = with_cells({
      {{40, 0.3, 0}, {40, 0.2, 0}, {80, 0.1, 0}},  // same bytes, more error: pair 0 dominated
      {{40, 0.2, 0}, {40, 0.2, 0}, {80, 0.1, 0}},  // a duplicate dominates nothing: the first stays
      {{40, 0.1, 0}, {80, 0.1, 0}, {90, 0.05, 0}}, // same error, more bytes: pair 1 dominated
  });
  CHECK(prune_pairs(s, ErrorMetric::kOutRelErr) == Kept{{1, 2}, {0, 2}, {0, 2}});
}

TEST_CASE("prune: the error metric decides what is dominated", "[search][prune]") {
  // Pair 1 costs more; on attention-output error it buys nothing, on KL it does.
  const auto s = with_cells({{{40, 0.2, 0.05}, {80, 0.2, 0.01}}});
  CHECK(prune_pairs(s, ErrorMetric::kOutRelErr) == Kept{{0}});
  CHECK(prune_pairs(s, ErrorMetric::kKl) == Kept{{0, 1}});
}

TEST_CASE("prune: kept pairs are exactly those no other pair dominates", "[search][prune]") {
  std::mt19937 rng(3);
  // Few distinct values so that ties on bytes and on error are common.
  std::uniform_int_distribution<int> bytes(1, 6), err(1, 6);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<Cell> row;
    for (int p = 0; p < 7; ++p) row.push_back({static_cast<double>(bytes(rng)), 0.1 * err(rng), 0});
    const auto kept = prune_pairs(with_cells({row}), ErrorMetric::kOutRelErr).at(0);
    INFO("trial " << trial);
    for (size_t p = 0; p < row.size(); ++p) {
      bool dominated = false, duplicate_earlier = false;
      for (size_t q = 0; q < row.size(); ++q) {
        const bool no_worse = row[q].bytes <= row[p].bytes && row[q].out_err <= row[p].out_err;
        const bool better = row[q].bytes < row[p].bytes || row[q].out_err < row[p].out_err;
        dominated |= no_worse && better;
        duplicate_earlier |= q < p && row[q].bytes == row[p].bytes && row[q].out_err == row[p].out_err;
      }
      const bool is_kept = std::find(kept.begin(), kept.end(), p) != kept.end();
      CHECK(is_kept == (!dominated && !duplicate_earlier));
    }
    for (size_t i = 1; i < kept.size(); ++i) CHECK(row[kept[i - 1]].bytes < row[kept[i]].bytes);
  }
}
