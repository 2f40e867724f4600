// sensitivity.json read back: a written profile round-trips, the checked-in profile (written before
// the reader checked this much) still loads, and every number of a hostile file is checked against
// its meaning before a search prices configurations with it: bytes recomputed from the pair and the
// shape (a KV8 cell at 0 bytes, a pair renamed KV16 still priced as KV2, a full-precision figure of
// -1), integer fields bounded (samples_per_task 1e9), the shape bounded and consistent. Each error
// names the file and the field.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "lib/io/json_file.h"
#include "search/sensitivity.h"
#include "tests/search/small_sensitivity.h"
#include "tests/temp_dir.h"

using namespace kvmix;
using Catch::Contains;
using nlohmann::json;

namespace {

const std::string kSrc = "sens.json";

// Every cell of pair p in every layer.
template <class F>
void for_pair_cells(json& j, size_t p, F f) {
  for (auto& layer : j["layers"]) f(layer["cells"][p]);
}

}  // namespace

TEST_CASE("sensitivity: a written profile reads back the same", "[search][sensitivity]") {
  const Sensitivity s = test::small_sensitivity();
  test::TempDir dir;
  save_sensitivity(s, dir.file("sensitivity.json"));
  const Sensitivity r = load_sensitivity(dir.file("sensitivity.json"));
  CHECK(r.model.layers == 3);
  CHECK(r.model.kv_heads == 2);
  CHECK(r.model.model_dtype_bytes == 2);
  CHECK(r.model.config_hash == s.model.config_hash);
  CHECK((r.pairs == s.pairs));  // parenthesized: KvPair has no operator<< for Catch to print
  CHECK(r.tasks == s.tasks);
  CHECK(r.samples == 8);
  CHECK(r.full_precision_bytes_per_token == s.full_precision_bytes_per_token);
  REQUIRE(r.cells.size() == 3);
  for (size_t l = 0; l < 3; ++l)
    for (size_t p = 0; p < s.pairs.size(); ++p) {
      CHECK(r.cells[l][p].bytes_per_token == s.cells[l][p].bytes_per_token);
      CHECK(r.cells[l][p].kl == s.cells[l][p].kl);
    }
}

TEST_CASE("sensitivity: the checked-in profile still loads", "[search][sensitivity]") {
  const std::string path = KVMIX_SOURCE_DIR "/results/tune-builtin/sensitivity.json";
  const Sensitivity s = load_sensitivity(path);
  CHECK(s.model.layers == 8);
  CHECK(s.pairs.size() == 9);
  // KV2 under kivi at head_dim 32 and 4096 tokens: 390.5 bytes per token over all 8 layers
  // (DESIGN.md, "True bytes, not nominal bits"), 48.8125 per layer.
  CHECK(s.cells[0][0].bytes_per_token == 48.8125);
}

TEST_CASE("sensitivity: bytes are recomputed from the pair and the shape", "[search][sensitivity]") {
  const json good = sensitivity_to_json(test::small_sensitivity());
  REQUIRE_NOTHROW(sensitivity_from_json(good, kSrc));

  // The case: a KV8 cell at 0 bytes made KV8 free on the front.
  json j = good;
  j["layers"][1]["cells"][0]["bytes_per_token"] = 0;
  CHECK_THROWS_WITH(sensitivity_from_json(j, kSrc),
                    Contains(kSrc + ": layer 1 pair KV8: field 'bytes_per_token' is 0"));
  j = good;
  j["layers"][2]["cells"][3]["bytes_per_token"] = 48.0;  // KV2 is 48.8125
  CHECK_THROWS_WITH(sensitivity_from_json(j, kSrc), Contains("layer 2 pair KV2") &&
                                                        Contains("'bytes_per_token'"));

  // -1 made every hypervolume 0; a positive wrong figure is refused as well.
  for (double fp : {-1.0, 0.0, 300.0}) {
    j = good;
    j["full_precision_bytes_per_token"] = fp;
    CHECK_THROWS_WITH(sensitivity_from_json(j, kSrc),
                      Contains(kSrc) && Contains("full_precision_bytes_per_token"));
  }
  j = good;
  j["kv_dtype_bytes"] = 4;  // every byte figure doubles with the element size
  CHECK_THROWS_WITH(sensitivity_from_json(j, kSrc), Contains("full_precision_bytes_per_token"));
}

TEST_CASE("sensitivity: pair names parse to supported pairs, each once, with their formats",
          "[search][sensitivity]") {
  const json good = sensitivity_to_json(test::small_sensitivity());
  // The case: KV2 renamed KV16 was priced as KV2. Its formats and bytes say KV2.
  json j = good;
  j["pairs"][3]["name"] = "KV16";
  for_pair_cells(j, 3, [](json& c) { c["pair"] = "KV16"; });
  CHECK_THROWS_WITH(sensitivity_from_json(j, kSrc),
                    Contains(kSrc + ": field 'pairs[3].k'") && Contains("KV16"));
  // Renamed with its formats too: the bytes still say KV2.
  j["pairs"][3]["k"] = "fp16";
  j["pairs"][3]["v"] = "fp16";
  CHECK_THROWS_WITH(sensitivity_from_json(j, kSrc),
                    Contains("pair KV16: field 'bytes_per_token'"));

  j = good;
  j["pairs"][1]["name"] = "KV6";
  CHECK_THROWS_WITH(sensitivity_from_json(j, kSrc),
                    Contains(kSrc + ": field 'pairs[1].name'") && Contains("6 bits"));
  j = good;
  j["pairs"][1]["name"] = "KV8";  // twice
  for_pair_cells(j, 1, [](json& c) { c["pair"] = "KV8"; });
  CHECK_THROWS_WITH(sensitivity_from_json(j, kSrc),
                    Contains("'pairs[1].name'") && Contains("again"));
  j = good;
  j["layers"][0]["cells"][2]["pair"] = "KV2";
  CHECK_THROWS_WITH(sensitivity_from_json(j, kSrc), Contains("layer 0 cell 2 is not pair KV4"));
}

TEST_CASE("sensitivity: integer fields are integers in range", "[search][sensitivity]") {
  const json good = sensitivity_to_json(test::small_sensitivity());
  // The case: 1e9 samples per task grew memory without bound when a search re-made tasks.
  for (json bad : {json(1e9), json(1000000000), json(2.5), json(0), json(-3), json("8")}) {
    INFO(bad.dump());
    json j = good;
    j["calibration"]["samples_per_task"] = bad;
    CHECK_THROWS_WITH(sensitivity_from_json(j, kSrc),
                      Contains(kSrc) && Contains("samples_per_task"));
  }
  json j = good;
  j["calibration"]["continuation_tokens"] = int64_t{1} << 40;
  CHECK_THROWS_WITH(sensitivity_from_json(j, kSrc), Contains("continuation_tokens"));
  j = good;
  j["reference_tokens"] = int64_t{1} << 30;
  CHECK_THROWS_WITH(sensitivity_from_json(j, kSrc), Contains("reference_tokens"));
  j = good;
  j["layers"][1]["layer"] = 2;
  CHECK_THROWS_WITH(sensitivity_from_json(j, kSrc), Contains("layers out of order at 1"));
}

TEST_CASE("sensitivity: the model shape is bounded and consistent", "[search][sensitivity]") {
  const json good = sensitivity_to_json(test::small_sensitivity());
  const std::vector<std::pair<std::string, json>> bad = {
      {"num_hidden_layers", 5000},   {"num_hidden_layers", 0},  {"num_key_value_heads", 3},
      {"num_attention_heads", 3},    {"head_dim", 1 << 20},     {"architecture", "gpt2"},
      {"num_key_value_heads", 2.0}};
  for (const auto& [field, value] : bad) {
    INFO(field << " = " << value.dump());
    json j = good;
    j["model"][field] = value;
    CHECK_THROWS_WITH(sensitivity_from_json(j, kSrc), Contains(kSrc) && Contains(field));
  }
  json j = good;
  j["kv_dtype_bytes"] = 3;
  CHECK_THROWS_WITH(sensitivity_from_json(j, kSrc), Contains("kv_dtype_bytes"));
  j = good;
  j["model"]["head_dim"] = 48;  // kivi's value groups of 32 do not divide it
  CHECK_THROWS_WITH(sensitivity_from_json(j, kSrc), Contains(kSrc + ": field 'scheme'"));
}

TEST_CASE("sensitivity: errors are finite, non-negative, a total variation at most 1",
          "[search][sensitivity]") {
  const json good = sensitivity_to_json(test::small_sensitivity());
  for (const auto& [field, value] : std::vector<std::pair<std::string, json>>{
           {"kl", -5}, {"kl", nullptr}, {"out_rel_err", "0.1"}, {"attn_tv", 1.5}, {"kl_std", -1e-9}}) {
    INFO(field << " = " << value.dump());
    json j = good;
    j["layers"][0]["cells"][1][field] = value;
    CHECK_THROWS_WITH(sensitivity_from_json(j, kSrc), Contains(kSrc) && Contains(field));
  }
}
