// Replays fuzz_kv_config's inputs through kv_config_from_json in the ordinary test build (as
// fuzz_regressions_test.cpp does for the other parsers): every seed in tests/fuzz/corpus/kv_config/
// loads and survives the round trip, every input in tests/fuzz/regressions/kv_config/ is refused
// with a kvmix::Error.
#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "lib/kv_config.h"
#include "tests/temp_dir.h"  // read_bytes

using namespace kvmix;

namespace {

namespace fs = std::filesystem;

std::vector<fs::path> kv_config_inputs(const std::string& kind) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(fs::path(KVMIX_SOURCE_DIR) / "tests/fuzz" / kind / "kv_config"))
    if (e.is_regular_file()) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

KvConfig load_bytes(const fs::path& p) {
  const auto j = nlohmann::json::parse(test::read_bytes(p.string()), nullptr, false);
  if (j.is_discarded()) throw Error(p.string() + ": not valid JSON");
  return kv_config_from_json(j, p.string());
}

}  // namespace

TEST_CASE("fuzz kv_config: seeds load and round-trip", "[fuzz][kv_config]") {
  const auto seeds = kv_config_inputs("corpus");
  REQUIRE(seeds.size() >= 2);
  for (const auto& p : seeds) {
    INFO(p);
    KvConfig c;
    REQUIRE_NOTHROW(c = load_bytes(p));
    CHECK((kv_config_from_json(kv_config_to_json(c), "round-trip").layers == c.layers));
  }
}

TEST_CASE("fuzz kv_config: regressions are refused with a kvmix::Error", "[fuzz][kv_config]") {
  const auto bad = kv_config_inputs("regressions");
  REQUIRE_FALSE(bad.empty());
  for (const auto& p : bad) {
    INFO(p);
    CHECK_THROWS_AS(load_bytes(p), Error);
  }
}
