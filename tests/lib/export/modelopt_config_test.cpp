// ModelOpt lowering: per-layer FP8 / NVFP4 / FP8_K_NVFP4_V under MIXED_PRECISION, fp16 layers
// left out, and the loss list of the small config.
#include "lib/export/modelopt_config.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/lib/export/small_config.h"

using namespace kvmix;
using nlohmann::json;

TEST_CASE("modelopt: mixed-precision layer map of the small config", "[export]") {
  const KvConfig c = test::small_config();
  const ExportResult r = export_modelopt(c);
  CHECK(r.file_name == "hf_quant_config.json");
  const json q = json::parse(r.text).at("quantization");
  CHECK(q.at("quant_algo").is_null());
  CHECK(q.at("kv_cache_quant_algo") == "MIXED_PRECISION");
  CHECK(q.at("kv_cache_schema_version") == 1);
  CHECK(q.at("kv_cache_quantized_layers") ==
        json{{"model.layers.1.self_attn", {{"quant_algo", "FP8_K_NVFP4_V"}}},
             {"model.layers.2.self_attn", {{"quant_algo", "NVFP4"}}},
             {"model.layers.3.self_attn", {{"quant_algo", "FP8"}}}});
  // 16+16, 8+4.5, 4.5+4.5, 8+8 bits over 64 elements: 556 bytes per token, under kvmix's true
  // bytes here (the fp16 layer dominates both), so no memory line.
  REQUIRE(total_bytes_per_token(c, 4096) >= 556);
  const std::vector<std::string> expected = {
      "layer 2: keys or values below 4 bits (2-bit, ternary...) are not representable: stored as "
      "NVFP4 (4.5 bits), they lose compression",
      "layers 1, 3: 8-bit integers with per-group dynamic scales become FP8 e4m3 with calibrated "
      "static scales",
      "layers 1-2: NVFP4 groups 16 consecutive channels symmetrically with fp8 scales; kvmix's "
      "axis, group size, zero-points or fp16 scales are not kept",
      "residual window dropped: kvmix keeps up to the newest 32 tokens in the model dtype, "
      "ModelOpt quantizes every token as it is stored",
  };
  CHECK(r.losses == expected);
}

TEST_CASE("modelopt: uniform FP8 names the algorithm, not MIXED_PRECISION", "[export]") {
  const ExportResult r = export_modelopt(test::uniform_config(Scheme::kPerToken, {8, 8}));
  const json q = json::parse(r.text).at("quantization");
  CHECK(q.at("kv_cache_quant_algo") == "FP8");
  CHECK(q.at("kv_cache_quantized_layers").size() == 4);
}

TEST_CASE("modelopt: NVFP4 keys with FP8 values raise the keys", "[export]") {
  const ExportResult r = export_modelopt(test::uniform_config(Scheme::kPerToken, {4, 8}));
  CHECK(json::parse(r.text)["quantization"]["kv_cache_quant_algo"] == "FP8");
  CHECK(r.losses.at(0) ==
        "layers 0-3: NVFP4 keys with FP8 values have no ModelOpt algorithm: keys raised to FP8");
}
