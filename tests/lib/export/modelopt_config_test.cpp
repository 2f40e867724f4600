// ModelOpt lowering: one KV cache format for the whole model (ModelOpt's exporter refuses mixed
// KV precision; vLLM gives every attention layer the same KV method), the most precise any layer
// needs, and what each config loses. The file layout is the one ModelOpt 0.47 writes and vLLM
// 0.34 reads (results/engines.md runs both readers on these exports).
#include "lib/export/modelopt_config.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/fmt/fmt.h>

#include "tests/lib/export/small_config.h"

using namespace kvmix;
using nlohmann::json;

namespace {

const char* kMerge =
    "quant_algo is null (kvmix leaves weights alone): merge kv_cache_quant_algo into a "
    "ModelOpt-quantized checkpoint's hf_quant_config.json; vLLM refuses this file alone";

json quantization(const ExportResult& r) { return json::parse(r.text).at("quantization"); }

}  // namespace

TEST_CASE("modelopt: an fp16 layer leaves the whole KV cache unquantized", "[export]") {
  const KvConfig c = test::small_config();
  const ExportResult r = export_modelopt(c);
  CHECK(r.file_name == "hf_quant_config.json");
  const json doc = json::parse(r.text);
  CHECK(doc.at("producer").at("name") == "kvmix");
  const json q = doc.at("quantization");
  CHECK(q == json{{"quant_algo", nullptr}, {"kv_cache_quant_algo", nullptr},
                  {"exclude_modules", json::array()}});
  const double ours = total_bytes_per_token(c, 4096);
  // 4 layers x (16 + 16) bits x 64 elements / 8 = 1024 bytes per token.
  const std::vector<std::string> expected = {
      kMerge,
      "layer 0: K or V kept in fp16, and ModelOpt has one KV cache format for every layer: no "
      "layer is quantized",
      fmt::format("memory: about 1024 bytes per token in ModelOpt (unquantized) against {:.0f} "
                  "true bytes in kvmix at 4096 tokens (+{:.0f}%)",
                  ours, 100.0 * (1024.0 / ours - 1.0)),
  };
  CHECK(r.losses == expected);
}

TEST_CASE("modelopt: per-token KV8 is FP8 with static scales", "[export]") {
  const ExportResult r = export_modelopt(test::uniform_config(Scheme::kPerToken, {8, 8}));
  CHECK(quantization(r).at("kv_cache_quant_algo") == "FP8");
  CHECK(r.losses.at(0) == kMerge);
  CHECK(r.losses.at(1) ==
        "layers 0-3: 8-bit integers with per-group dynamic scales become FP8 e4m3 with "
        "calibrated static scales");
}

TEST_CASE("modelopt: 4-bit keys with 8-bit values take FP8 for both", "[export]") {
  const ExportResult r = export_modelopt(test::uniform_config(Scheme::kPerToken, {4, 8}));
  CHECK(quantization(r).at("kv_cache_quant_algo") == "FP8");
  CHECK(r.losses.at(1) ==
        "layers 0-3: less precise than FP8 would do, but ModelOpt has one KV cache format for "
        "every layer: they lose compression");
}

TEST_CASE("modelopt: kivi K4V2 is NVFP4, losing the 2 bits and KIVI's layout", "[export]") {
  const ExportResult r = export_modelopt(test::uniform_config(Scheme::kKivi, {4, 2}));
  CHECK(quantization(r).at("kv_cache_quant_algo") == "NVFP4");
  REQUIRE(r.losses.size() >= 4);
  CHECK(r.losses.at(1) ==
        "layers 0-3: keys or values below 4 bits (2-bit, ternary...) are not representable: "
        "stored as NVFP4 (4.5 bits), they lose compression");
  CHECK(r.losses.at(2) ==
        "layers 0-3: NVFP4 groups 16 consecutive channels symmetrically with fp8 scales; "
        "kvmix's axis, group size, zero-points or fp16 scales are not kept");
  CHECK(r.losses.at(3) ==
        "residual window dropped: kvmix keeps up to the newest 32 tokens in the model dtype, "
        "ModelOpt quantizes every token as it is stored");
}
