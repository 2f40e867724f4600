// transformers lowering: the stock QuantizedCacheConfig keys plus KVTuner's per-layer table.
#include "lib/export/hf_quantized_cache.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/lib/export/small_config.h"

using namespace kvmix;
using nlohmann::json;

TEST_CASE("hf: quantized cache config of the small kivi config", "[export]") {
  const ExportResult r = export_hf(test::small_config());
  CHECK(r.file_name == "hf_quantized_cache.json");
  const json j = json::parse(r.text);
  CHECK(j.at("cache_implementation") == "quantized");
  const json& cc = j.at("cache_config");
  CHECK(cc.at("backend") == "HQQ");
  CHECK(cc.at("nbits") == 8);
  CHECK(cc.at("axis_key") == 0);    // kivi keys: per-channel
  CHECK(cc.at("axis_value") == 1);  // kivi values: per-token
  CHECK(cc.at("q_group_size") == 32);
  CHECK(cc.at("residual_length") == 32);
  CHECK(cc.at("per_layer_quant") == true);
  CHECK(cc.at("per_layer_config").at(2) ==
        json{{"nbits_key", 4}, {"nbits_value", 2}, {"axis_key", 0}, {"axis_value", 1},
             {"q_group_size", 32}, {"residual_length", 32}});
  CHECK(cc.at("per_layer_config").size() == 4);
  CHECK(cc.at("per_layer_config").at(0).at("nbits_key") == 8);  // fp16 has no HQQ equivalent
  const std::vector<std::string> expected = {
      "stock transformers applies one nbits to keys and values of every layer: nbits = 8 (the "
      "most precise any layer needs); the per-layer bits (per_layer_config) take effect only in a "
      "per-layer cache such as KVTuner's FlexibleQuantizedCache",
      "layer 0: kept in fp16 in kvmix, but the quantized cache quantizes every layer: written as "
      "8 bits",
      "residual window: transformers quantizes the whole full-precision window once it holds "
      "residual_length tokens, so 0 to 32 newest tokens stay unquantized, where kvmix keeps the "
      "newest values in a sliding window",
  };
  CHECK(r.losses == expected);
}

TEST_CASE("hf: uniform per-token KV4 is exact", "[export]") {
  const ExportResult r = export_hf(test::uniform_config(Scheme::kPerToken, {4, 4}));
  const json cc = json::parse(r.text).at("cache_config");
  CHECK(cc.at("nbits") == 4);
  CHECK(cc.at("axis_key") == 1);
  CHECK(cc.at("q_group_size") == 32);  // the whole head (head_dim 32)
  CHECK(cc.at("residual_length") == 0);
  CHECK(r.losses.empty());
}
