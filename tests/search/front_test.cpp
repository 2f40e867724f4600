// front.json read back: a written front round-trips with the method, seed, population and
// generations that reproduce it; the checked-in fronts (written before those were recorded) still
// load; and every number of a hostile front is checked against its meaning before `kvmix compare`
// or a table prints it: a reference of [1e308, 1e308] made every hypervolume inf, 2^70 evaluations
// printed negative, a point's bytes or KL that are not its pairs'. Each error names the file and
// the field.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "search/front.h"
#include "search/search_method.h"
#include "tests/search/small_sensitivity.h"
#include "tests/temp_dir.h"

using namespace kvmix;
using Catch::Contains;
using nlohmann::json;

namespace {

const std::string kSrc = "front.json";

// A front as run_search builds one: five evaluations of which three are on the front, the curve
// the hypervolume after each, the reference full precision and 1 nat.
Front small_front() {
  const Sensitivity s = test::small_sensitivity();
  auto trial = [&](int64_t id, const std::vector<size_t>& lp, double kl, const char* origin) {
    return test::small_trial(s, id, lp, kl, origin);
  };
  const std::vector<Trial> trials = {
      trial(0, {0, 0, 0}, 0.001, "proxy-seed"), trial(1, {3, 3, 3}, 0.4, "proxy-seed"),
      trial(2, {2, 2, 2}, 0.5, "refine"),  // dominated by trial 1
      trial(3, {1, 2, 3}, 0.05, "refine"), trial(4, {0, 1, 1}, 0.01, "refine")};
  Front f = test::small_front_of(s, trials);
  f.search = FrontSearchSettings{7, 8, 2};
  return f;
}

}  // namespace

TEST_CASE("front: search methods parse once, and print as front.json and --method write them",
          "[search][front]") {
  CHECK(parse_search_method("kvmix") == SearchMethod::kKvmix);
  CHECK(parse_search_method("kvtuner") == SearchMethod::kKvtunerNsga2);
  CHECK(parse_search_method("kvtuner-nsga2") == SearchMethod::kKvtunerNsga2);
  CHECK(std::string(search_method_name(SearchMethod::kKvtunerNsga2)) == "kvtuner-nsga2");
  CHECK(std::string(search_method_option(SearchMethod::kKvtunerNsga2)) == "kvtuner");
  CHECK_THROWS_AS(parse_search_method("nsga3"), UsageError);
}

TEST_CASE("front: a written front reads back with what reproduces it", "[search][front]") {
  const Front f = small_front();
  REQUIRE(f.points.size() == 4);
  test::TempDir dir;
  save_front(f, dir.file("front.json"));
  const Front r = load_front(dir.file("front.json"));
  CHECK(r.method == "kvmix");
  REQUIRE(r.search.has_value());
  CHECK(r.search->seed == 7);
  CHECK(r.search->population == 8);
  CHECK(r.search->generations == 2);
  CHECK(r.evaluations == 5);
  CHECK(r.hypervolume_curve == f.hypervolume_curve);
  CHECK(r.hv_reference.cost == f.hv_reference.cost);
  REQUIRE(r.points.size() == f.points.size());
  for (size_t i = 0; i < f.points.size(); ++i) {
    CHECK(r.points[i].layer_pairs == f.points[i].layer_pairs);
    CHECK(r.points[i].bytes_per_token == f.points[i].bytes_per_token);
    CHECK(r.points[i].true_bits == f.points[i].true_bits);
    CHECK(r.points[i].kl == f.points[i].kl);
    CHECK(r.points[i].trial == f.points[i].trial);
  }
}

TEST_CASE("front: the checked-in fronts, written without seed and settings, still load",
          "[search][front]") {
  for (const char* name : {"/results/search/front-kvmix.json", "/results/search/front-kvtuner.json",
                           "/results/tune-builtin/front.json"}) {
    INFO(name);
    const Front f = load_front(std::string(KVMIX_SOURCE_DIR) + name);
    CHECK_FALSE(f.search.has_value());
    CHECK(f.sensitivity.model.layers == 8);
    CHECK(f.hv_reference.cost == 2048.0);
    CHECK(static_cast<int64_t>(f.hypervolume_curve.size()) == f.evaluations);
  }
  CHECK(load_front(KVMIX_SOURCE_DIR "/results/search/front-kvtuner.json").method == "kvtuner-nsga2");
}

TEST_CASE("front: the hypervolume reference and the counts are finite, in range and consistent",
          "[search][front]") {
  const json good = front_to_json(small_front());
  REQUIRE_NOTHROW(front_from_json(good, kSrc));
  // The issue's cases: [1e308, 1e308] made every hypervolume inf; 2^70 evaluations printed negative.
  json j = good;
  j["hypervolume_reference"] = {1e308, 1e308};
  CHECK_THROWS_WITH(front_from_json(j, kSrc), Contains(kSrc + ": field 'hypervolume_reference[0]'"));
  j = good;
  j["hypervolume_reference"][1] = 1e308;
  CHECK_THROWS_WITH(front_from_json(j, kSrc), Contains("'hypervolume_reference[1]'"));
  for (json bad : {json(1180591620717411303424.0), json(UINT64_MAX), json(-1), json(2.5)}) {
    INFO(bad.dump());
    j = good;
    j["evaluations"] = bad;
    CHECK_THROWS_WITH(front_from_json(j, kSrc), Contains(kSrc) && Contains("evaluations"));
  }
  j = good;
  j["evaluations"] = 6;  // one hypervolume after each evaluation: 5 of them
  CHECK_THROWS_WITH(front_from_json(j, kSrc), Contains("'hypervolume_curve' has 5 values for 6"));
  j = good;
  j["population"] = 8;
  j["generations"] = 0;  // 8 evaluations at most, fine; then fewer than the points
  j["evaluations"] = 3;
  j["hypervolume_curve"] = {0.0, 0.0, 0.0};
  CHECK_THROWS_WITH(front_from_json(j, kSrc), Contains("4 points from 3 evaluations"));
  j = good;
  j.erase("generations");  // settings are all there or none
  CHECK_THROWS_WITH(front_from_json(j, kSrc), Contains("'seed', 'population' and 'generations'"));
  j = good;
  j["hypervolume"] = 1e300;
  CHECK_THROWS_WITH(front_from_json(j, kSrc), Contains(kSrc) && Contains("hypervolume"));
  j = good;
  j["hypervolume_curve"][1] = 0.0;  // the area fell
  CHECK_THROWS_WITH(front_from_json(j, kSrc), Contains("'hypervolume_curve[1]' falls"));
  // The method is a label (another optimizer's fronts carry their own), kept as text; an empty
  // or huge one is refused.
  j = good;
  j["method"] = "x'; system 'touch PWNED'; #";
  CHECK(front_from_json(j, kSrc).method == "x'; system 'touch PWNED'; #");
  j["method"] = "";
  CHECK_THROWS_WITH(front_from_json(j, kSrc), Contains(kSrc) && Contains("method"));
  j["method"] = std::string(1000, 'm');
  CHECK_THROWS_WITH(front_from_json(j, kSrc), Contains(kSrc) && Contains("method"));
}

TEST_CASE("front: points' bytes and bits are recomputed from their pairs", "[search][front]") {
  const json good = front_to_json(small_front());
  json j = good;
  j["points"][0]["bytes_per_token"] = 0;
  CHECK_THROWS_WITH(front_from_json(j, kSrc), Contains(kSrc + ": point 0: field 'bytes_per_token'"));
  j = good;
  j["points"][1]["true_bits"] = 1.0;
  CHECK_THROWS_WITH(front_from_json(j, kSrc), Contains("point 1: field 'true_bits'"));
  j = good;
  j["points"][2]["nominal_bits"] = 2.0;
  CHECK_THROWS_WITH(front_from_json(j, kSrc), Contains("point 2: field 'nominal_bits'"));
  j = good;
  j["points"][0]["kl"] = -5;
  CHECK_THROWS_WITH(front_from_json(j, kSrc), Contains(kSrc) && Contains("kl"));
  // A pair renamed in a point: its formats say otherwise, and KV16 is not among the pairs.
  j = good;
  j["points"][0]["layers"][0]["pair"] = "KV16";
  CHECK_THROWS_WITH(front_from_json(j, kSrc),
                    Contains("point 0: field 'layers[0].pair'") && Contains("not among"));
  j = good;
  j["points"][0]["layers"][0]["pair"] = "KV8";  // was KV2: the formats and bytes are KV2's
  CHECK_THROWS_WITH(front_from_json(j, kSrc), Contains("point 0: field 'layers[0].k'"));
  j = good;
  j["pairs"][0] = "KV16";
  CHECK_THROWS_WITH(front_from_json(j, kSrc), Contains("point"));
  j = good;
  j["points"][0]["layers"].erase(2);
  CHECK_THROWS_WITH(front_from_json(j, kSrc), Contains("point 0: 2 layers for a 3-layer model"));
  j = good;
  std::swap(j["points"][0], j["points"][1]);
  CHECK_THROWS_WITH(front_from_json(j, kSrc), Contains("point 1: not on the front"));
  j = good;
  j["budget_bytes_per_token"] = 100.0;  // every point but the first is above it
  CHECK_THROWS_WITH(front_from_json(j, kSrc), Contains("point 0") && Contains("above the budget"));
}
