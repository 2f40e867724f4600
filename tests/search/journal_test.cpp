// The search journal: what a killed job leaves must be replayable (every finished trial found
// again, nothing re-evaluated), a torn last line (a kill mid-write) must not lose the lines before
// it, another run's journal must be refused rather than mixed in, and a trial whose numbers do not
// fit its search space (hostile input: a negative KL, bytes that are not its pairs', an index out of
// range, an id out of sequence) must be refused naming the file, the line and the field.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "base/error.h"
#include "search/journal.h"
#include "tests/temp_dir.h"

using namespace kvmix;
using Catch::Contains;
namespace fs = std::filesystem;

namespace {

// Three pairs per layer; the bytes differ by layer and pair so that any other pair index, or any
// other layer's, gives other bytes.
TrialSpace space(size_t layers) {
  TrialSpace s;
  for (size_t l = 0; l < layers; ++l)
    s.layer_pair_bytes.push_back({10.0 + static_cast<double>(l), 20.0 + static_cast<double>(l),
                                  40.5 + static_cast<double>(l)});
  return s;
}

// The bytes per token of a configuration in space(layers): what the journal recomputes.
double bytes_of(const std::vector<size_t>& lp) {
  const TrialSpace s = space(lp.size());
  double b = 0;
  for (size_t l = 0; l < lp.size(); ++l) b += s.layer_pair_bytes[l][lp[l]];
  return b;
}

Trial trial(const std::vector<size_t>& lp, double kl, const std::string& origin) {
  return {0, lp, bytes_of(lp), kl, origin, 0.1};
}

std::string temp_journal(const test::TempDir& dir, const std::string& name) {
  return dir.file("journal-" + name + ".jsonl");
}

}  // namespace

TEST_CASE("journal trials survive a reopen and are found by their choice", "[search][journal]") {
  test::TempDir dir;
  const auto path = temp_journal(dir, "reopen");
  const nlohmann::json header = {{"method", "kvmix"}, {"seed", 3}};
  {
    Journal j(path, header, space(3));
    j.append(trial({0, 1, 2}, 0.5, "proxy-seed"));
    j.append(trial({2, 2, 2}, 0.01, "nsga2"));
    CHECK(j.trials().size() == 2);
  }
  Journal again(path, header, space(3));
  REQUIRE(again.trials().size() == 2);
  const Trial* t = again.find({2, 2, 2});
  REQUIRE(t != nullptr);
  CHECK(t->bytes_per_token == bytes_of({2, 2, 2}));
  CHECK(t->kl == 0.01);
  CHECK(t->origin == "nsga2");
  CHECK(again.find({1, 1, 1}) == nullptr);
}

TEST_CASE("a journal of another run is refused", "[search][journal]") {
  test::TempDir dir;
  const auto path = temp_journal(dir, "other");
  {
    Journal j(path, {{"method", "kvmix"}, {"seed", 3}}, space(1));
    j.append(trial({0}, 0.1, "random"));
  }
  CHECK_THROWS_AS(Journal(path, {{"method", "kvtuner"}, {"seed", 3}}, space(1)), Error);
}

TEST_CASE("a torn last line keeps the finished trials", "[search][journal]") {
  test::TempDir dir;
  const auto path = temp_journal(dir, "torn");
  const nlohmann::json header = {{"method", "kvmix"}};
  {
    Journal j(path, header, space(2));
    j.append(trial({1, 0}, 0.2, "random"));
  }
  { std::ofstream f(path, std::ios::app); f << "{\"id\": 1, \"layer_pa"; }  // killed mid-write
  Journal j(path, header, space(2));
  CHECK(j.trials().size() == 1);
  CHECK(j.find({1, 0}) != nullptr);
}

TEST_CASE("appending after a torn last line leaves a readable journal", "[search][journal]") {
  // Without cutting the fragment off, the next trial would be glued onto it and the line after it
  // would make the file unreadable (corruption before the last line).
  test::TempDir dir;
  const auto path = temp_journal(dir, "torn-append");
  const nlohmann::json header = {{"method", "kvmix"}};
  { Journal j(path, header, space(2)); j.append(trial({1, 0}, 0.2, "random")); }
  { std::ofstream f(path, std::ios::app); f << "{\"trial\": 1, \"layer_pa"; }  // killed mid-write
  { Journal j(path, header, space(2)); j.append(trial({0, 1}, 0.1, "random")); }
  { Journal j(path, header, space(2)); j.append(trial({1, 1}, 0.05, "random")); }
  Journal j(path, header, space(2));
  REQUIRE(j.trials().size() == 3);
  CHECK(j.find({0, 1}) != nullptr);
  CHECK(j.find({1, 1}) != nullptr);
  // A complete last line that lost only its newline is kept and ended before the next append.
  {
    std::ofstream f(path, std::ios::app);
    f << nlohmann::json{{"trial", 3}, {"layer_pairs", {0, 0}}, {"bytes_per_token", bytes_of({0, 0})},
                        {"kl", 0.5}}
             .dump();
  }
  {
    Journal k(path, header, space(2));
    CHECK(k.trials().size() == 4);
    k.append(trial({2, 2}, 0.01, "random"));
  }
  Journal k(path, header, space(2));
  CHECK(k.trials().size() == 5);
}

TEST_CASE("journal: a trial that does not fit its search space is refused, naming file and line",
          "[search][journal]") {
  test::TempDir dir;
  const nlohmann::json header = {{"method", "kvmix"}};
  const nlohmann::json good = {{"trial", 1},         {"layer_pairs", {2, 0}},
                               {"bytes_per_token", bytes_of({2, 0})},
                               {"kl", 0.25},         {"origin", "refine"},
                               {"seconds", 1.5}};
  // Each case: what is changed in line 3 (the second trial), and what the error must name.
  struct Case {
    const char* what;
    nlohmann::json line;
    const char* field;
  };
  std::vector<Case> cases;
  auto with = [&](const char* key, nlohmann::json v) {
    nlohmann::json j = good;
    j[key] = std::move(v);
    return j;
  };
  // The case: a negative KL at zero bytes became the front's only point and config.json.
  nlohmann::json hostile = with("kl", -5);
  hostile["bytes_per_token"] = 0;
  cases.push_back({"negative KL at zero bytes", hostile, "bytes_per_token"});
  cases.push_back({"negative KL", with("kl", -5), "kl"});
  cases.push_back({"KL not finite (JSON writes NaN as null)", with("kl", nullptr), "kl"});
  cases.push_back({"bytes that are not its pairs'", with("bytes_per_token", 0), "bytes_per_token"});
  cases.push_back({"one layer short", with("layer_pairs", {2}), "layer_pairs"});
  cases.push_back({"a pair index out of range", with("layer_pairs", {3, 0}), "layer_pairs[0]"});
  cases.push_back({"a negative pair index", with("layer_pairs", {0, -1}), "layer_pairs[1]"});
  cases.push_back({"a fractional pair index", with("layer_pairs", {0.5, 0}), "layer_pairs[0]"});
  cases.push_back({"an id out of sequence", with("trial", 7), "trial"});
  cases.push_back({"an id as a huge float", with("trial", 1.1805916207174113e21), "trial"});
  cases.push_back({"an unknown origin", with("origin", "best-ever"), "origin"});
  cases.push_back({"negative seconds", with("seconds", -1.0), "seconds"});
  for (const auto& c : cases) {
    INFO(c.what);
    const auto path = temp_journal(dir, "hostile");
    fs::remove(path);
    { Journal j(path, header, space(2)); j.append(trial({0, 0}, 0.5, "proxy-seed")); }
    { std::ofstream f(path, std::ios::app); f << c.line.dump() << "\n"; }
    CHECK_THROWS_WITH(Journal(path, header, space(2)),
                      Contains(path + ":3") && Contains(std::string("'") + c.field + "'"));
  }

  // The unchanged line reads back, bytes recomputed.
  const auto path = temp_journal(dir, "good");
  { Journal j(path, header, space(2)); j.append(trial({0, 0}, 0.5, "proxy-seed")); }
  { std::ofstream f(path, std::ios::app); f << good.dump() << "\n"; }
  Journal j(path, header, space(2));
  REQUIRE(j.trials().size() == 2);
  CHECK(j.trials()[1].bytes_per_token == bytes_of({2, 0}));
}

TEST_CASE("journal: a trial repeating an earlier configuration is refused", "[search][journal]") {
  test::TempDir dir;
  const auto path = temp_journal(dir, "repeat");
  const nlohmann::json header = {{"method", "kvmix"}};
  { Journal j(path, header, space(2)); j.append(trial({1, 2}, 0.5, "proxy-seed")); }
  {
    std::ofstream f(path, std::ios::app);
    f << nlohmann::json{{"trial", 1}, {"layer_pairs", {1, 2}}, {"bytes_per_token", bytes_of({1, 2})},
                        {"kl", 0.0}, {"origin", "refine"}}
             .dump()
      << "\n";
  }
  CHECK_THROWS_WITH(Journal(path, header, space(2)),
                    Contains(path + ":3") && Contains("repeats the configuration of trial 0"));
}
