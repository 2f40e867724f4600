// The exhaustive evaluation (search/exhaustive.h) and what reads it back, against oracles written
// here: a synthetic objective counts its calls, so "every configuration once" and "a resumed run
// evaluates only what is left" are counted, not assumed; the true front is checked against an
// O(n^2) dominance test and its hypervolume against the staircase summed by hand. The reader is
// fed damaged tables, each refused with the file and the field named; the table objective and the
// JSON-lines server (search/objective_server.h) answer from the same figures.
#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "base/error.h"
#include "lib/io/atomic_file.h"
#include "search/exhaustive.h"
#include "search/objective_server.h"
#include "search/objective_table.h"
#include "tests/search/small_sensitivity.h"
#include "tests/temp_dir.h"

using namespace kvmix;
using Catch::Matchers::Contains;
using Catch::Matchers::WithinRel;

namespace {

// A deterministic stand-in for the calibration KL: not additive over layers (a product term), so
// the front is not the proxy's. Counts its calls; sets `stop` after `stop_after` of them.
class CountingObjective : public Objective {
 public:
  explicit CountingObjective(const Sensitivity& s) : s_(s) {}
  ObjectiveValue evaluate(const std::vector<size_t>& lp) const override {
    const int n = ++calls;
    if (stop && n >= stop_after) stop->store(true);
    double kl = 0, prod = 1;
    for (size_t l = 0; l < lp.size(); ++l) {
      kl += s_.cells[l][lp[l]].kl;
      prod *= 1.0 + static_cast<double>(lp[l]) * 0.1;
    }
    return {kl * prod, bytes_per_token(lp)};
  }
  double bytes_per_token(const std::vector<size_t>& lp) const override {
    double b = 0;
    for (size_t l = 0; l < lp.size(); ++l) b += s_.cells[l][lp[l]].bytes_per_token;
    return b;
  }
  mutable std::atomic<int> calls{0};
  std::atomic<bool>* stop = nullptr;
  int stop_after = 0;

 private:
  const Sensitivity& s_;
};

// Layers 0 and 1 share a decision among every pair; layer 2 chooses among three: 4 x 3 = 12.
Clustering two_clusters() {
  Clustering c;
  c.layers = {{0, 1}, {2}};
  c.candidates = {{0, 1, 2, 3}, {1, 2, 3}};
  return c;
}

const nlohmann::json kIdentity = {{"command", "test"}, {"method", "exhaustive"}};

}  // namespace

TEST_CASE("exhaustive evaluation: every configuration once, the true front by brute force", "[search]") {
  const Sensitivity s = test::small_sensitivity();
  const Clustering c = two_clusters();
  test::TempDir dir;
  CountingObjective obj(s);
  const ExhaustiveTable t = run_exhaustive(s, c, obj, dir.file("j.jsonl"), kIdentity, nullptr, 1, false);
  REQUIRE(t.complete);
  REQUIRE(t.space_size == 12);
  REQUIRE(t.trials.size() == 12);
  CHECK(obj.calls == 12);
  std::set<std::vector<size_t>> distinct;
  for (const Trial& tr : t.trials) {
    distinct.insert(tr.layer_pairs);
    CHECK(tr.layer_pairs[0] == tr.layer_pairs[1]);  // one cluster, one pair
    CHECK(tr.kl == obj.evaluate(tr.layer_pairs).kl);
  }
  CHECK(distinct.size() == 12);

  // Oracle: a point is on the front when no other point dominates it.
  std::set<size_t> expected;
  for (size_t i = 0; i < t.trials.size(); ++i) {
    bool dominated = false;
    for (size_t j = 0; j < t.trials.size(); ++j)
      dominated = dominated || dominates({t.trials[j].bytes_per_token, t.trials[j].kl},
                                         {t.trials[i].bytes_per_token, t.trials[i].kl});
    if (!dominated) expected.insert(i);
  }
  const auto front = exhaustive_front(t);
  CHECK(std::set<size_t>(front.begin(), front.end()) == expected);
  // Hypervolume: the staircase of the front sorted by bytes, summed by hand.
  double area = 0;
  for (size_t i = 0; i < front.size(); ++i) {
    const double next = i + 1 < front.size() ? t.trials[front[i + 1]].bytes_per_token : t.hv_reference.cost;
    area += (next - t.trials[front[i]].bytes_per_token) * (t.hv_reference.error - t.trials[front[i]].kl);
  }
  CHECK_THAT(exhaustive_hypervolume(t), WithinRel(area, 1e-12));
  CHECK(t.hv_reference.cost == s.full_precision_bytes_per_token * 3);
}

TEST_CASE("exhaustive evaluation resumes from its journal and refuses another run's", "[search]") {
  const Sensitivity s = test::small_sensitivity();
  const Clustering c = two_clusters();
  test::TempDir dir;
  const std::string journal = dir.file("j.jsonl");
  std::atomic<bool> stop{false};
  CountingObjective first(s);
  first.stop = &stop;
  first.stop_after = 5;
  const ExhaustiveTable part = run_exhaustive(s, c, first, journal, kIdentity, &stop, 1, false);
  CHECK_FALSE(part.complete);
  CHECK(part.trials.size() == 5);
  CHECK(first.calls == 5);

  CountingObjective second(s);
  const ExhaustiveTable rest = run_exhaustive(s, c, second, journal, kIdentity, nullptr, 1, false);
  CHECK(rest.complete);
  CHECK(second.calls == 7);  // only what the first run left

  test::TempDir fresh_dir;
  CountingObjective fresh(s);
  const ExhaustiveTable whole = run_exhaustive(s, c, fresh, fresh_dir.file("j.jsonl"), kIdentity, nullptr, 1, false);
  REQUIRE(whole.trials.size() == rest.trials.size());
  for (size_t i = 0; i < whole.trials.size(); ++i) {
    CHECK(whole.trials[i].layer_pairs == rest.trials[i].layer_pairs);
    CHECK(whole.trials[i].kl == rest.trials[i].kl);
  }

  CountingObjective other(s);
  nlohmann::json changed = kIdentity;
  changed["metric"] = "kl";
  CHECK_THROWS_WITH(run_exhaustive(s, c, other, journal, changed, nullptr, 1, false),
                    Contains("belongs to another run"));
  CHECK(other.calls == 0);
}

TEST_CASE("exhaustive evaluation with two jobs gives the table of one", "[search]") {
  const Sensitivity s = test::small_sensitivity();
  const Clustering c = two_clusters();
  test::TempDir dir;
  CountingObjective one(s), two(s);
  const ExhaustiveTable a = run_exhaustive(s, c, one, dir.file("a.jsonl"), kIdentity, nullptr, 1, false);
  const ExhaustiveTable b = run_exhaustive(s, c, two, dir.file("b.jsonl"), kIdentity, nullptr, 2, false);
  CHECK(two.calls == 12);
  REQUIRE(a.trials.size() == b.trials.size());
  for (size_t i = 0; i < a.trials.size(); ++i) {
    CHECK(a.trials[i].layer_pairs == b.trials[i].layer_pairs);  // enumeration order, not finish order
    CHECK(a.trials[i].kl == b.trials[i].kl);
  }
}

TEST_CASE("exhaustive.json round-trips and damaged tables are refused by field", "[search]") {
  const Sensitivity s = test::small_sensitivity();
  const Clustering c = two_clusters();
  test::TempDir dir;
  CountingObjective obj(s);
  const ExhaustiveTable t = run_exhaustive(s, c, obj, dir.file("j.jsonl"), kIdentity, nullptr, 1, false);
  const std::string path = dir.file("exhaustive.json");
  save_exhaustive(s, t, path);
  const ExhaustiveTable back = load_exhaustive(path, s);
  CHECK(back.complete);
  CHECK(back.clusters.layers == c.layers);
  CHECK(back.clusters.candidates == c.candidates);
  REQUIRE(back.trials.size() == t.trials.size());
  for (size_t i = 0; i < t.trials.size(); ++i) CHECK(back.trials[i].kl == t.trials[i].kl);

  const nlohmann::json good = exhaustive_to_json(s, t);
  auto refused = [&](const std::function<void(nlohmann::json&)>& damage, const std::string& needle) {
    nlohmann::json j = good;
    damage(j);
    const std::string bad = dir.file("bad.json");
    write_file_atomic(bad, j.dump());
    CHECK_THROWS_WITH(load_exhaustive(bad, s), Contains(bad) && Contains(needle));
  };
  refused([](auto& j) { j["schema"] = "kvmix.front"; }, "not an exhaustive evaluation");
  refused([](auto& j) { j["configurations"][3]["kl"] = -1.0; }, "configurations[3].kl");
  refused([](auto& j) { j["configurations"][3]["kl"] = "0.1"; }, "configurations[3].kl");
  refused([](auto& j) { j["configurations"][2]["bytes_per_token"] = 1.0; }, "configurations[2].bytes_per_token");
  refused([](auto& j) { j["configurations"][1]["layer_pairs"][2] = 99; }, "configurations[1].layer_pairs[2]");
  refused([](auto& j) { j["configurations"][1]["layer_pairs"][1] = 3; }, "different pairs");
  refused([](auto& j) { j["configurations"][1]["layer_pairs"] = {0, 0, 0}; }, "not a candidate of its cluster");
  refused([](auto& j) { j["configurations"][5] = j["configurations"][4]; }, "repeats");
  refused([](auto& j) { j["configurations"].erase(j["configurations"].end() - 1); }, "complete, but 11");
  refused([](auto& j) { j["hypervolume"] = 1.0; }, "field 'hypervolume'");
  refused([](auto& j) { j["front"][0] = (j["front"][0].template get<int>() + 1) % 12; }, "front[0]");
  refused([](auto& j) { j["clusters"][1]["layers"] = {1}; }, "layer 1 is in clusters 0 and 1");
  refused([](auto& j) { j["clusters"][1]["candidates"][0] = "K3V3"; }, "not one of the pairs");
  refused([](auto& j) { j["pairs"][0] = "KV4"; }, "pairs[0]");
  refused([](auto& j) { j["space_size"] = 13; }, "space_size");
  refused([](auto& j) { j["model_config_hash"] = "ffff"; }, "model_config_hash");
  refused([](auto& j) { j["hypervolume_reference"] = {1.0, 1.0}; }, "hypervolume_reference");
}

TEST_CASE("a table objective answers the table's figures and refuses the rest", "[search]") {
  const Sensitivity s = test::small_sensitivity();
  const Clustering c = two_clusters();
  test::TempDir dir;
  CountingObjective obj(s);
  const ExhaustiveTable t = run_exhaustive(s, c, obj, dir.file("j.jsonl"), kIdentity, nullptr, 1, false);
  const TableObjective table(s, t, "table.json");
  for (const Trial& tr : t.trials) {
    CHECK(table.evaluate(tr.layer_pairs).kl == tr.kl);
    CHECK(table.evaluate(tr.layer_pairs).bytes_per_token == tr.bytes_per_token);
  }
  CHECK_THROWS_WITH(table.evaluate({0, 1, 2}), Contains("table.json") && Contains("no evaluation"));
}

TEST_CASE("the objective server answers JSON lines and names each bad request", "[search]") {
  const Sensitivity s = test::small_sensitivity();
  const Clustering c = two_clusters();
  test::TempDir dir;
  CountingObjective obj(s);
  Journal journal(dir.file("served.jsonl"), kIdentity, trial_space(s));
  std::istringstream in(
      "{\"choice\": [1, 2], \"id\": \"a\"}\n"
      "\n"
      "{\"choice\": [1, 2], \"id\": 7}\n"
      "{\"choice\": [4, 0]}\n"
      "{\"choice\": [1]}\n"
      "{\"choice\": [1, 2], \"seed\": 3}\n"
      "{\"choice\": [1.5, 0]}\n"
      "nonsense\n"
      "{\"choice\": [0, 0], \"id\": [1]}\n"
      "{\"choice\": [3, 0]}\n");
  std::ostringstream out;
  const int64_t answered = serve_objective(in, out, s, c, obj, &journal, nullptr);
  CHECK(answered == 2);
  CHECK(obj.calls == 2);
  std::vector<nlohmann::json> lines;
  std::istringstream replies(out.str());
  for (std::string l; std::getline(replies, l);) lines.push_back(nlohmann::json::parse(l));
  REQUIRE(lines.size() == 1 + 9);
  CHECK(lines[0]["protocol"] == "kvmix.objective");
  CHECK(lines[0]["space_size"] == 12);
  CHECK(lines[0]["clusters"][1]["candidates"] == nlohmann::json{"K8V4", "KV4", "KV2"});
  // Cluster 0 at position 1 is pair 1 (K8V4) on layers 0 and 1; cluster 1 at position 2 is pair 3.
  const std::vector<size_t> lp = {1, 1, 3};
  CHECK(lines[1]["id"] == "a");
  CHECK(lines[1]["evaluated"] == true);
  CHECK(lines[1]["kl"].get<double>() == obj.evaluate(lp).kl);
  CHECK(lines[1]["bytes_per_token"].get<double>() == obj.bytes_per_token(lp));
  CHECK(lines[1]["pairs"] == nlohmann::json{"K8V4", "KV2"});
  CHECK(lines[2]["id"] == 7);
  CHECK(lines[2]["evaluated"] == false);  // the journal held it
  CHECK(lines[2]["evaluations"] == 1);
  CHECK_THAT(lines[3]["error"].get<std::string>(), Contains("<stdin>:4") && Contains("choice[0]"));
  CHECK_THAT(lines[4]["error"].get<std::string>(), Contains("one candidate position per cluster"));
  CHECK_THAT(lines[5]["error"].get<std::string>(), Contains("unknown field"));
  CHECK_THAT(lines[6]["error"].get<std::string>(), Contains("choice[0]"));
  CHECK_THAT(lines[7]["error"].get<std::string>(), Contains("<stdin>:8") && Contains("not JSON"));
  CHECK_THAT(lines[8]["error"].get<std::string>(), Contains("'id'"));
  CHECK(lines[9]["evaluations"] == 2);
  CHECK(journal.trials().size() == 2);
  for (const Trial& tr : journal.trials()) CHECK(tr.origin == "external");
}
