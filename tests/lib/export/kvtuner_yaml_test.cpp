// KVTuner presets both ways: export text and losses, the round trip, the two published presets
// (layer counts, C3.25's nominal bits), and one clear error per kind of bad input.
#include "lib/export/kvtuner_yaml.h"

#include <catch2/catch.hpp>

#include "base/error.h"
#include "models/model_kv_shape.h"
#include "tests/lib/export/small_config.h"
#include "tests/temp_dir.h"

using namespace kvmix;
using Catch::Contains;

namespace {

const std::string kFixtures = std::string(KVMIX_SOURCE_DIR) + "/tests/fixtures/";
const std::string kLlamaPreset = kFixtures + "kvtuner/Meta-Llama-3.1-8B-Instruct_kivi_KVTuner4_1.yaml";
const std::string kQwenPreset = kFixtures + "kvtuner/Qwen2.5-7B-Instruct_pertoken_KVTuner4_0.yaml";

KvShape model_shape_of(const std::string& name) {
  return kv_shape(load_model_config(kFixtures + "models/" + name + "/config.json"));
}

KvConfig import_text(const std::string& text, const KvShape& m = test::small_shape()) {
  return import_kvtuner(text, "bad.yaml", Scheme::kKivi, m);
}

}  // namespace

TEST_CASE("kvtuner: export of the small kivi config", "[export][kvtuner]") {
  const ExportResult r = export_kvtuner(test::small_config());
  CHECK(r.file_name == "kvtuner_kivi.yaml");
  CHECK(r.text ==
        "# KVTuner per-layer preset exported by kvmix for llama (4 layers).\n"
        "# Scheme: kivi (keys per-channel, values per-token, group 32, residual 32, asymmetric, "
        "fp16 scales). Load with KVTuner's per_layer_config_path.\n"
        "0:\n  nbits_key: 16\n  nbits_value: 16\n"
        "1:\n  nbits_key: 8\n  nbits_value: 4\n"
        "2:\n  nbits_key: 4\n  nbits_value: 2\n"
        "3:\n  nbits_key: 8\n  nbits_value: 8\n");
  const std::vector<std::string> expected = {
      "layer 0: kept in fp16 and written as 16 bits, outside KVTuner's candidate set (2, 4, 8); "
      "its quantized cache may not accept them"};
  CHECK(r.losses == expected);
}

TEST_CASE("kvtuner: formats outside the scheme, fp8 and ternary are listed", "[export][kvtuner]") {
  KvConfig c = test::uniform_config(Scheme::kPerToken, {4, 4});
  c.layers[1].k = uniform_format(4, QuantAxis::kPerToken, 16);
  c.layers[2].v = fp8_format(Fp8Scope::kPerHead);
  c.layers[3].v = ternary_format(QuantAxis::kPerToken, 0);
  const ExportResult r = export_kvtuner(c);
  CHECK(r.file_name == "kvtuner_pertoken.yaml");
  const std::vector<std::string> expected = {
      "layer 1: their encoding is not KVTuner's per-token scheme (group, axis, residual, symmetry "
      "or scale dtype differ); only their bits are written",
      "layer 2: fp8 e4m3 has no KVTuner equivalent; written as 8-bit integers",
      "layer 3: ternary (1.58-bit) values have no KVTuner equivalent; written as 2 bits"};
  CHECK(r.losses == expected);
}

TEST_CASE("kvtuner: export then import gives the same pairs", "[export][kvtuner]") {
  for (Scheme s : {Scheme::kKivi, Scheme::kPerToken}) {
    const KvConfig c = test::small_config(s);
    const ExportResult r = export_kvtuner(c);
    CHECK(scheme_from_preset_name(r.file_name) == s);
    const KvConfig back = import_kvtuner(r.text, r.file_name, s, c.model);
    CHECK((back.layers == c.layers));  // parenthesized: Catch cannot print a vector of formats
  }
}

TEST_CASE("kvtuner: the published Llama-3.1-8B kivi preset is C3.25", "[export][kvtuner]") {
  const KvConfig c = load_kvtuner_preset(kLlamaPreset, std::nullopt, model_shape_of("llama-3.1-8b"));
  CHECK(c.layers.size() == 32);
  CHECK(nominal_bits(c) == 3.25);  // sum of (k + v)/2 over 32 layers is 104 = 3.25 x 32: exact
  CHECK(c.layers[0] == LayerKvFormat{key_format(Scheme::kKivi, 2), value_format(Scheme::kKivi, 2)});
  CHECK(c.layers[13] == LayerKvFormat{key_format(Scheme::kKivi, 8), value_format(Scheme::kKivi, 4)});
  // Scales, zero-points and the 32-token residual make the true cost higher than the nominal.
  CHECK(true_bits_per_element(c, 4096) > 3.25);
}

TEST_CASE("kvtuner: the published Qwen2.5-7B per-token preset", "[export][kvtuner]") {
  const KvConfig c = load_kvtuner_preset(kQwenPreset, std::nullopt, model_shape_of("qwen2.5-7b"));
  CHECK(c.layers.size() == 28);
  CHECK(nominal_bits(c) == 4.0);
  CHECK(c.layers[0].k == key_format(Scheme::kPerToken, 8));
  CHECK(true_bits_per_element(c, 4096) > 4.0);
}

TEST_CASE("kvtuner: scheme from the file name", "[export][kvtuner]") {
  CHECK(scheme_from_preset_name("a/Meta-Llama_kivi_KVTuner4_1.yaml") == Scheme::kKivi);
  CHECK(scheme_from_preset_name("Qwen_pertoken_x.yaml") == Scheme::kPerToken);
  CHECK(scheme_from_preset_name("Qwen_KVTuner4_1.yaml") == std::nullopt);
  CHECK_THROWS_AS(scheme_from_preset_name("kivi_pertoken.yaml"), UsageError);
  test::TempDir dir;
  const std::string path = dir.file("Qwen_KVTuner4_1.yaml");
  test::write_bytes(path, "0: {nbits_key: 4, nbits_value: 4}\n");
  CHECK_THROWS_WITH(load_kvtuner_preset(path, std::nullopt, test::small_shape()),
                    Contains(path) && Contains("--scheme"));
}

TEST_CASE("kvtuner: bad presets are refused naming the file and the problem", "[export][kvtuner]") {
  const std::string four = "0: {nbits_key: 4, nbits_value: 4}\n1: {nbits_key: 4, nbits_value: 4}\n"
                           "2: {nbits_key: 4, nbits_value: 4}\n";
  CHECK_NOTHROW(import_text(four + "3: {nbits_key: 2, nbits_value: 2}\n"));
  CHECK_THROWS_WITH(import_text("0: {nbits_key: 4, nbits_value: [4\n"),
                    Contains("bad.yaml") && Contains("not valid YAML"));
  CHECK_THROWS_WITH(import_text("- 4\n- 4\n"), Contains("bad.yaml") && Contains("mapping"));
  CHECK_THROWS_WITH(import_text(four + "3: {nbits_key: 2}\n"),
                    Contains("bad.yaml:4") && Contains("layer 3 has no nbits_value"));
  CHECK_THROWS_WITH(import_text(four + "3: {nbits_key: 5, nbits_value: 2}\n"),
                    Contains("bad.yaml:4") && Contains("nbits_key 5 is not supported"));
  CHECK_THROWS_WITH(import_text(four + "3: {nbits_key: two, nbits_value: 2}\n"),
                    Contains("nbits_key must be an integer, not 'two'"));
  CHECK_THROWS_WITH(import_text(four), Contains("bad.yaml") &&
                                           Contains("3 layer entries, but the model has 4 layers"));
  CHECK_THROWS_WITH(import_text(four + "7: {nbits_key: 2, nbits_value: 2}\n"),
                    Contains("layer 3 is missing"));
  CHECK_THROWS_WITH(import_text(four + "x: {nbits_key: 2, nbits_value: 2}\n"),
                    Contains("'x' is not a layer index"));
  CHECK_THROWS_WITH(import_text(four + "3: {nbits_key: 2, nbits_value: 2, nbits: 4}\n"),
                    Contains("unknown key 'nbits'"));
  CHECK_THROWS_WITH(import_text(""), Contains("bad.yaml") && Contains("mapping"));
  // The Llama preset against Qwen2.5-7B's 28 layers.
  CHECK_THROWS_WITH(
      load_kvtuner_preset(kLlamaPreset, std::nullopt, model_shape_of("qwen2.5-7b")),
      Contains(kLlamaPreset) && Contains("32 layer entries, but the model has 28 layers"));
  CHECK_THROWS_WITH(load_kvtuner_preset(kFixtures + "kvtuner/missing_kivi.yaml", std::nullopt,
                                        test::small_shape()),
                    Contains("missing_kivi.yaml"));
}

TEST_CASE("kvtuner: the published presets export back exactly", "[export][kvtuner]") {
  for (const auto& [preset, model] : {std::pair{kLlamaPreset, "llama-3.1-8b"},
                                      std::pair{kQwenPreset, "qwen2.5-7b"}}) {
    INFO(preset);
    const KvShape shape = model_shape_of(model);
    const KvConfig c = load_kvtuner_preset(preset, std::nullopt, shape);
    const ExportResult r = export_kvtuner(c);
    CHECK(r.losses.empty());
    CHECK(scheme_from_preset_name(r.file_name) == scheme_from_preset_name(preset));
    CHECK((import_kvtuner(r.text, r.file_name, *scheme_from_preset_name(preset), shape).layers ==
           c.layers));
  }
}
