// The threshold sweep against fronts worked out by hand on two layers and two pairs.
#include <catch2/catch.hpp>

#include <cmath>

#include "search/cluster_sweep.h"

using namespace kvmix;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;

namespace {

// Pair 0 costs 1 byte per layer, pair 1 costs 2; errors per layer as given.
Sensitivity two_layers(double e00, double e01, double e10, double e11) {
  Sensitivity s;
  s.model.layers = 2;
  s.reference_tokens = 1;
  s.pairs.assign(2, KvPair{});
  s.cells.assign(2, std::vector<CellStats>(2));
  const double err[2][2] = {{e00, e01}, {e10, e11}};
  for (int l = 0; l < 2; ++l)
    for (int p = 0; p < 2; ++p) {
      s.cells[l][p].bytes_per_token = 1.0 + p;
      s.cells[l][p].out_rel_err = err[l][p];
    }
  return s;
}

const std::vector<std::vector<size_t>> kBoth = {{0, 1}, {0, 1}};

}  // namespace

TEST_CASE("cluster sweep: merging two identical layers loses the mixed point", "[search][cluster]") {
  // Per layer: (2 B, 2.0), (3 B, 1.1), (4 B, 0.2). One cluster: (2 B, 2.0), (4 B, 0.2); within
  // 3 B its best error is 2.0, 2.0 / 1.1 = 1.818 times the per-layer front's.
  // Hypervolume box (4 * 1.01 + 1, 2.0 * 1.01): per layer 0.02 + 0.92 + 1.04 * 1.82 = 2.8328,
  // one cluster 2 * 0.02 + 1.04 * 1.82 = 1.9328, ratio 0.68229.
  const auto s = two_layers(1.0, 0.1, 1.0, 0.1);
  const auto rows = sweep_cluster_threshold(s, kBoth, ErrorMetric::kOutRelErr, {0.5});
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].clusters == 1);
  CHECK(rows[0].front_points == 2);
  CHECK_THAT(rows[0].log10_space, WithinAbs(std::log10(2.0), 1e-12));
  CHECK_THAT(rows[0].hypervolume_ratio, WithinRel(1.9328 / 2.8328, 1e-9));
  CHECK_THAT(rows[0].median_error_ratio, WithinAbs(1.0, 1e-12));
  CHECK_THAT(rows[0].worst_error_ratio, WithinRel(2.0 / 1.1, 1e-12));
}

TEST_CASE("cluster sweep: a threshold below the layers' distance keeps them apart", "[search][cluster]") {
  // Layer 1's errors are half of layer 0's: log10 distance 0.301. Threshold 0.2 keeps two
  // clusters (nothing lost), 0.5 merges them.
  const auto s = two_layers(1.0, 0.1, 0.5, 0.05);
  const auto rows = sweep_cluster_threshold(s, kBoth, ErrorMetric::kOutRelErr, {0.2, 0.5});
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].clusters == 2);
  CHECK_THAT(rows[0].hypervolume_ratio, WithinAbs(1.0, 1e-12));
  CHECK_THAT(rows[0].worst_error_ratio, WithinAbs(1.0, 1e-12));
  CHECK(rows[1].clusters == 1);
  CHECK(rows[1].hypervolume_ratio < 1.0);
  // The per-layer front at 3 B takes the cheap pair on the less sensitive layer: 0.1 + 0.5 = 0.6;
  // merged, within 3 B only (1.0 + 0.5) = 1.5 remains: ratio 2.5.
  CHECK_THAT(rows[1].worst_error_ratio, WithinRel(1.5 / 0.6, 1e-12));
  const std::string md = cluster_sweep_table(s, kBoth, rows);
  CHECK(md.find("| per layer | 2 |") != std::string::npos);
}
