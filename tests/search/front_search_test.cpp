// The search's exact pieces against independent oracles: the DP proxy front against brute force
// over every combination, pruning against a hand-checked case, 2-D hypervolume against pagmo2's
// hypervolume and a hand-computed area, clustering's search-space count by hand; the kvmix
// method's corrected proxy: the weighted DP front against brute force over scaled errors, the
// weight fit against weights planted in consistent data; the kvmix method end to end on a tiny
// random model: it spends exactly its evaluations, never repeats one, and a run killed halfway
// and resumed from its journal asks for the same configurations as one that was not.
#include <catch2/catch.hpp>

#include <pagmo/utils/hypervolume.hpp>

#include <fstream>
#include <random>
#include <set>

#include "lib/io/atomic_file.h"
#include "lib/tokenizer/tokenizer.h"
#include "search/cluster.h"
#include "search/dp_front.h"
#include "search/front_search.h"
#include "search/pareto.h"
#include "search/profile.h"
#include "search/prune.h"
#include "tests/models/random_model.h"
#include "tests/search/byte_model.h"
#include "tests/temp_dir.h"

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

TEST_CASE("weighted proxy front equals the brute-force front of scaled errors", "[search]") {
  for (uint32_t seed = 1; seed <= 10; ++seed) {
    const auto s = random_sensitivity(4, 4, seed);
    std::vector<std::vector<size_t>> all(4, std::vector<size_t>{0, 1, 2, 3});
    const auto c = singletons(s, all);
    const std::vector<double> w = {0.5, 3.0, 0.0, 1.25};
    auto scaled = s;
    for (size_t l = 0; l < 4; ++l)
      for (auto& cell : scaled.cells[l]) cell.out_rel_err *= w[l];
    const auto dp = exact_proxy_front(s, c, ErrorMetric::kOutRelErr, w);
    const auto bf = brute_force_proxy_front(scaled, c, ErrorMetric::kOutRelErr);
    REQUIRE(dp.size() == bf.size());
    for (size_t i = 0; i < dp.size(); ++i) {
      CHECK(dp[i].bytes == bf[i].bytes);
      CHECK_THAT(dp[i].error, WithinAbs(bf[i].error, 1e-12));
    }
  }
  const auto s = random_sensitivity(2, 2, 1);
  CHECK_THROWS(exact_proxy_front(s, singletons(s, {{0, 1}, {0, 1}}), ErrorMetric::kOutRelErr, {1.0}));
}

TEST_CASE("cluster weight fit recovers planted weights from consistent trials", "[search]") {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> u(0.01, 1.0);
  const std::vector<double> planted = {0.5, 2.0, 0.0, 1.3};
  std::vector<std::vector<double>> features;
  std::vector<double> kl;
  for (int i = 0; i < 12; ++i) {
    std::vector<double> f = {u(rng), u(rng), u(rng), u(rng)};
    double y = 0;
    for (size_t k = 0; k < 4; ++k) y += planted[k] * f[k];
    features.push_back(f);
    kl.push_back(y);
  }
  // Without the ridge the data decide alone: the planted weights, zero included.
  const auto w = fit_cluster_weights(features, kl, 0.0);
  REQUIRE(w.size() == 4);
  for (size_t k = 0; k < 4; ++k) CHECK_THAT(w[k], WithinAbs(planted[k], 1e-6));
  // A zero KL has no ratio: skipped, not a division by zero.
  features.push_back({1, 1, 1, 1});
  kl.push_back(0.0);
  const auto w0 = fit_cluster_weights(features, kl, 0.0);
  for (size_t k = 0; k < 4; ++k) CHECK_THAT(w0[k], WithinAbs(planted[k], 1e-6));
}

TEST_CASE("cluster weight fit with fewer trials than clusters is the rescaled proxy", "[search]") {
  // One trial measured at 2x the plain proxy: every weight 2 fits it exactly at no ridge cost.
  const auto w = fit_cluster_weights({{0.1, 0.3, 0.2}}, {2.0 * 0.6}, 0.1);
  REQUIRE(w.size() == 3);
  for (double v : w) CHECK_THAT(v, WithinRel(2.0, 1e-9));
  // No usable trial: weights of 1 (the plain proxy).
  const auto none = fit_cluster_weights({{0.1, 0.3}}, {0.0}, 0.1);
  CHECK(none == std::vector<double>{1.0, 1.0});
}

namespace {

struct TinySearch {
  const Tokenizer& tok = test::byte_tokenizer();
  Model model;
  Sensitivity s;
  Clustering c;
  std::vector<ProxyPoint> proxy;
  std::vector<TaskSpec> calib = {parse_task("arith", Split::kCalibration, 2)};

  TinySearch() {
    model = test::random_model(test::byte_model_config());
    ProfileOptions po;
    po.pairs.clear();
    for (const char* n : {"KV8", "K8V4", "KV4", "K4V2", "KV2"}) po.pairs.push_back(parse_pair(n));
    po.tasks = calib;
    po.batch = 2;
    po.max_continuation = 6;
    po.progress = false;
    s = run_profile(model, tok, po);
    ClusterOptions co;
    co.enabled = false;  // every layer its own decision: a space of up to 5^3 configurations
    c = cluster_layers(s, prune_pairs(s, ErrorMetric::kOutRelErr), ErrorMetric::kOutRelErr, co);
    proxy = exact_proxy_front(s, c, ErrorMetric::kOutRelErr);
  }

  Front search(const std::string& journal, const std::atomic<bool>* stop = nullptr) const {
    ObjectiveOptions oo;
    oo.tasks = calib;
    oo.eval.batch = 2;
    oo.eval.progress = false;
    const ObjectiveEvaluator objective(model, tok, s, oo);
    SearchOptions so;
    so.population = 8;
    so.generations = 1;
    so.journal_path = journal;
    return run_search(s, c, objective, proxy, so, stop, {{"test", "tiny"}});
  }
};

std::vector<std::string> journal_lines(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

}  // namespace

TEST_CASE("kvmix search spends its evaluations once each and resumes on the same path",
          "[search][nsga2]") {
  const TinySearch t;
  REQUIRE(log10_search_space(t.c) > std::log10(16.0));  // room for 16 distinct configurations
  test::TempDir dir;
  const std::string full = dir.file("full.jsonl");
  const Front f = t.search(full);
  CHECK(f.complete);
  CHECK(f.evaluations == 16);  // population x (1 + generations)
  REQUIRE(f.hypervolume_curve.size() == 16);
  for (size_t i = 1; i < f.hypervolume_curve.size(); ++i)
    CHECK(f.hypervolume_curve[i] >= f.hypervolume_curve[i - 1]);
  const auto lines = journal_lines(full);
  REQUIRE(lines.size() == 1 + 16);  // header + one line per evaluation
  std::set<std::string> configs;
  for (size_t i = 1; i < lines.size(); ++i)
    configs.insert(nlohmann::json::parse(lines[i]).at("layer_pairs").dump());
  CHECK(configs.size() == 16);
  for (size_t i = 9; i < lines.size(); ++i)
    CHECK(nlohmann::json::parse(lines[i]).at("origin") == "refine");

  // The same command again replays: nothing new is evaluated, the front is the same.
  const Front again = t.search(full);
  CHECK(journal_lines(full) == lines);
  CHECK(again.hypervolume_curve == f.hypervolume_curve);

  // Killed after 11 evaluations, in the middle of writing the 12th, then resumed.
  const std::string cut = dir.file("cut.jsonl");
  std::string text;
  for (size_t i = 0; i < 12; ++i) text += lines[i] + "\n";
  write_file_atomic(cut, text + lines[12].substr(0, 20));
  const Front resumed = t.search(cut);
  const auto after = journal_lines(cut);
  REQUIRE(after.size() == lines.size());
  for (size_t i = 1; i < lines.size(); ++i)
    CHECK(nlohmann::json::parse(after[i]).at("layer_pairs") ==
          nlohmann::json::parse(lines[i]).at("layer_pairs"));
  CHECK(resumed.evaluations == 16);
  CHECK(resumed.hypervolume_curve.back() == Approx(f.hypervolume_curve.back()).epsilon(1e-9));

  // A stop request before the first new evaluation leaves the journal as it was.
  const std::atomic<bool> stop{true};
  const std::string stopped = dir.file("stopped.jsonl");
  write_file_atomic(stopped, text);
  const Front partial = t.search(stopped, &stop);
  CHECK_FALSE(partial.complete);
  CHECK(partial.evaluations == 11);
  CHECK(journal_lines(stopped).size() == 12);
}
