// The search journal: what a killed job leaves must be replayable (every finished trial found
// again, nothing re-evaluated), a torn last line (a kill mid-write) must not lose the lines before
// it, and another run's journal must be refused rather than mixed in.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "lib/error.h"
#include "search/journal.h"

using namespace kvmix;
namespace fs = std::filesystem;

namespace {
std::string temp_journal(const std::string& name) {
  const auto p = fs::temp_directory_path() / ("kvmix-journal-" + name + ".jsonl");
  fs::remove(p);
  return p.string();
}
}  // namespace

TEST_CASE("journal trials survive a reopen and are found by their choice", "[search][journal]") {
  const auto path = temp_journal("reopen");
  const nlohmann::json header = {{"method", "kvmix"}, {"seed", 3}};
  {
    Journal j(path, header);
    j.append({0, {0, 1, 2}, 100.0, 0.5, "proxy-seed", 1.0});
    j.append({0, {2, 2, 2}, 300.0, 0.01, "nsga2", 1.0});
    CHECK(j.trials().size() == 2);
  }
  Journal again(path, header);
  REQUIRE(again.trials().size() == 2);
  const Trial* t = again.find({2, 2, 2});
  REQUIRE(t != nullptr);
  CHECK(t->bytes_per_token == 300.0);
  CHECK(t->kl == 0.01);
  CHECK(t->origin == "nsga2");
  CHECK(again.find({1, 1, 1}) == nullptr);
  fs::remove(path);
}

TEST_CASE("a journal of another run is refused", "[search][journal]") {
  const auto path = temp_journal("other");
  { Journal j(path, {{"method", "kvmix"}, {"seed", 3}}); j.append({0, {0}, 1.0, 0.1, "random", 0.1}); }
  CHECK_THROWS_AS(Journal(path, {{"method", "kvtuner"}, {"seed", 3}}), Error);
  fs::remove(path);
}

TEST_CASE("a torn last line keeps the finished trials", "[search][journal]") {
  const auto path = temp_journal("torn");
  const nlohmann::json header = {{"method", "kvmix"}};
  { Journal j(path, header); j.append({0, {1, 0}, 10.0, 0.2, "random", 0.1}); }
  { std::ofstream f(path, std::ios::app); f << "{\"id\": 1, \"layer_pa"; }  // killed mid-write
  Journal j(path, header);
  CHECK(j.trials().size() == 1);
  CHECK(j.find({1, 0}) != nullptr);
  fs::remove(path);
}

TEST_CASE("appending after a torn last line leaves a readable journal", "[search][journal]") {
  // Without cutting the fragment off, the next trial would be glued onto it and the line after it
  // would make the file unreadable (corruption before the last line).
  const auto path = temp_journal("torn-append");
  const nlohmann::json header = {{"method", "kvmix"}};
  { Journal j(path, header); j.append({0, {1, 0}, 10.0, 0.2, "random", 0.1}); }
  { std::ofstream f(path, std::ios::app); f << "{\"trial\": 1, \"layer_pa"; }  // killed mid-write
  { Journal j(path, header); j.append({0, {0, 1}, 12.0, 0.1, "random", 0.1}); }
  { Journal j(path, header); j.append({0, {1, 1}, 14.0, 0.05, "random", 0.1}); }
  Journal j(path, header);
  REQUIRE(j.trials().size() == 3);
  CHECK(j.find({0, 1}) != nullptr);
  CHECK(j.find({1, 1}) != nullptr);
  // A complete last line that lost only its newline is kept and ended before the next append.
  { std::ofstream f(path, std::ios::app); f << R"({"trial": 3, "layer_pairs": [0, 0], "bytes_per_token": 8.0, "kl": 0.5})"; }
  { Journal k(path, header); CHECK(k.trials().size() == 4); k.append({0, {2, 2}, 16.0, 0.01, "random", 0.1}); }
  Journal k(path, header);
  CHECK(k.trials().size() == 5);
  fs::remove(path);
}
