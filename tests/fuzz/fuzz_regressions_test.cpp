// Replays the fuzzers' inputs through the same parsers in the ordinary test build, so an input
// that once crashed one of them stays fixed without needing clang or libFuzzer:
//   tests/fuzz/corpus/TARGET/       seeds: valid inputs, which must parse
//   tests/fuzz/regressions/TARGET/  damaged inputs, each of which must be refused with a
//                                   kvmix::Error: inputs a fuzzer found crashing, and hand-made
//                                   attacks on the overflow and nesting checks (a crashing
//                                   input that turns out valid belongs in corpus/ instead)
// for the safetensors header and config.json; kv_config_corpus_test.cpp does the same for the KV
// config, fuzz_corpus_replay_test.cpp for every other target.
#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "lib/io/safetensors_header.h"
#include "models/model_config.h"
#include "tests/fuzz/fuzz_inputs.h"
#include "tests/temp_dir.h"  // read_bytes

using namespace kvmix;

namespace {

namespace fs = std::filesystem;

void parse_safetensors_bytes(const fs::path& p) {
  const std::string bytes = test::read_bytes(p.string());
  parse_safetensors_header(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                           p.string());
}

void parse_config_bytes(const fs::path& p) {
  const nlohmann::json j = nlohmann::json::parse(test::read_bytes(p.string()), nullptr, false);
  if (j.is_discarded()) throw Error(p.string() + ": not valid JSON");
  parse_model_config(j, p.string());
}

}  // namespace

TEST_CASE("fuzz seed corpus parses", "[fuzz]") {
  const auto st = test::fuzz_inputs("corpus", "safetensors");
  const auto mc = test::fuzz_inputs("corpus", "model_config");
  REQUIRE(st.size() >= 4);
  REQUIRE(mc.size() >= 4);
  for (const auto& p : st) {
    INFO(p);
    CHECK_NOTHROW(parse_safetensors_bytes(p));
  }
  for (const auto& p : mc) {
    INFO(p);
    CHECK_NOTHROW(parse_config_bytes(p));
  }
}

TEST_CASE("fuzz regressions are refused with a kvmix::Error", "[fuzz]") {
  const auto st = test::fuzz_inputs("regressions", "safetensors");
  const auto mc = test::fuzz_inputs("regressions", "model_config");
  REQUIRE_FALSE(st.empty());
  REQUIRE_FALSE(mc.empty());
  for (const auto& p : st) {
    INFO(p);
    CHECK_THROWS_AS(parse_safetensors_bytes(p), Error);
  }
  for (const auto& p : mc) {
    INFO(p);
    CHECK_THROWS_AS(parse_config_bytes(p), Error);
  }
}
