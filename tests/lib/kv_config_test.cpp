// The neutral per-layer config: JSON round trip (through a file too), the schema naming the field
// of a malformed file, semantic checks after the schema, and refusal for another model's shape.
#include "lib/kv_config.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "tests/lib/export/small_config.h"
#include "tests/temp_dir.h"

using namespace kvmix;
using Catch::Contains;
using nlohmann::json;

namespace {

KvConfig mixed_config() {
  KvConfig c = test::small_config();
  c.layers[1].v = ternary_format(QuantAxis::kPerToken, 32, 32);
  c.layers[2].k = fp8_format(Fp8Scope::kPerTensor);
  c.layers[3].v = uniform_format(4, QuantAxis::kPerToken, 16, 0, true, ScaleDtype::kF32);
  c.provenance.calibration = "arith calib split, 8 samples";
  c.provenance.seed = 7;
  return c;
}

}  // namespace

TEST_CASE("kv_config: JSON round trip keeps every format and the shape", "[kv_config]") {
  const KvConfig c = mixed_config();
  const KvConfig back = kv_config_from_json(kv_config_to_json(c), "round-trip");
  CHECK((back.layers == c.layers));  // parenthesized: Catch cannot print a vector of formats
  CHECK(back.model.layers == 4);
  CHECK(back.model.kv_heads == 2);
  CHECK(back.model.head_dim == 32);
  CHECK(back.provenance.calibration == c.provenance.calibration);
  CHECK(back.provenance.seed == 7);
  CHECK(total_bytes_per_token(back, 4096) == total_bytes_per_token(c, 4096));

  test::TempDir dir;
  save_kv_config(c, dir.file("c.json"));
  CHECK((load_kv_config(dir.file("c.json")).layers == c.layers));
}

TEST_CASE("kv_config: the schema names the field of a malformed file", "[kv_config]") {
  const json good = kv_config_to_json(test::small_config());
  json j = good;
  j.erase("kv_dtype_bytes");
  CHECK_THROWS_WITH(kv_config_from_json(j, "cfg.json"),
                    Contains("cfg.json") && Contains("kv_dtype_bytes"));
  j = good;
  j["model"]["num_key_value_heads"] = "eight";
  CHECK_THROWS_WITH(kv_config_from_json(j, "cfg.json"),
                    Contains("cfg.json") && Contains("num_key_value_heads"));
  j = good;
  j["model"]["num_key_value_heads"] = int64_t{1} << 40;  // byte counts would overflow
  CHECK_THROWS_WITH(kv_config_from_json(j, "cfg.json"), Contains("num_key_value_heads"));
  j = good;
  j["formats"].begin().value()["family"] = "int3";
  CHECK_THROWS_WITH(kv_config_from_json(j, "cfg.json"), Contains("family"));

  test::TempDir dir;
  test::write_bytes(dir.file("broken.json"), "{\"schema\": ");
  CHECK_THROWS_WITH(load_kv_config(dir.file("broken.json")),
                    Contains("broken.json") && Contains("not valid JSON"));
}

TEST_CASE("kv_config: semantic errors after the schema", "[kv_config]") {
  const json good = kv_config_to_json(test::small_config());
  json j = good;
  j["layers"].erase(3);
  CHECK_THROWS_WITH(kv_config_from_json(j, "cfg.json"),
                    Contains("cfg.json: 3 layer entries for a model of 4 layers"));
  j = good;
  j["layers"][3]["layer"] = 2;
  CHECK_THROWS_WITH(kv_config_from_json(j, "cfg.json"), Contains("layer 2 appears twice"));
  j = good;
  j["formats"]["u4-asym-tok-g32-f16-r32"]["group"] = 48;  // layer 1's values; head_dim is 32
  CHECK_THROWS_WITH(kv_config_from_json(j, "cfg.json"),
                    Contains("cfg.json: layer 1") && Contains("does not divide"));
  j = good;
  j["layers"][0]["k"] = "u5-nowhere";
  CHECK_THROWS_WITH(kv_config_from_json(j, "cfg.json"), Contains("'u5-nowhere'"));
}

TEST_CASE("kv_config: a config for another model shape is refused", "[kv_config]") {
  const KvConfig c = test::small_config();
  KvShape other = c.model;
  CHECK_NOTHROW(check_kv_config_matches(c, other, "cfg.json"));
  other.kv_heads = 8;
  CHECK_THROWS_WITH(check_kv_config_matches(c, other, "cfg.json"),
                    Contains("cfg.json") && Contains("num_key_value_heads = 2") && Contains("8"));
  other = c.model;
  other.layers = 32;
  CHECK_THROWS_WITH(check_kv_config_matches(c, other, "cfg.json"), Contains("num_hidden_layers"));
}

TEST_CASE("kv_config: nominal and true bits", "[kv_config]") {
  const KvConfig c = test::uniform_config(Scheme::kPerToken, {4, 2});
  CHECK(nominal_bits(c) == 3.0);
  // Per-token, group = head_dim 32, fp16 scale and zero: (16 + 16)/32 = 1 bit more per element.
  CHECK(true_bits_per_element(c, 4096) == Approx(4.0));
}
