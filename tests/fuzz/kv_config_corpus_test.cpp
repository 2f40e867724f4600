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
#include "tests/fuzz/fuzz_inputs.h"
#include "tests/temp_dir.h"  // read_bytes

using namespace kvmix;

namespace {

namespace fs = std::filesystem;

KvConfig load_bytes(const fs::path& p) {
  const auto j = nlohmann::json::parse(test::read_bytes(p.string()), nullptr, false);
  if (j.is_discarded()) throw Error(p.string() + ": not valid JSON");
  return kv_config_from_json(j, p.string());
}

}  // namespace

TEST_CASE("fuzz kv_config: seeds load and round-trip", "[fuzz][kv_config]") {
  const auto seeds = test::fuzz_inputs("corpus", "kv_config");
  REQUIRE(seeds.size() >= 2);
  for (const auto& p : seeds) {
    INFO(p);
    KvConfig c;
    REQUIRE_NOTHROW(c = load_bytes(p));
    CHECK((kv_config_from_json(kv_config_to_json(c), "round-trip").layers == c.layers));
  }
}

TEST_CASE("fuzz kv_config: regressions are refused with a kvmix::Error", "[fuzz][kv_config]") {
  const auto bad = test::fuzz_inputs("regressions", "kv_config");
  REQUIRE_FALSE(bad.empty());
  for (const auto& p : bad) {
    INFO(p);
    CHECK_THROWS_AS(load_bytes(p), Error);
  }
}
