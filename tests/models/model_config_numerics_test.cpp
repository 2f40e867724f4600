// config.json numerics that parse as positive numbers but break the computation: rope_theta
// 1e-300 once passed validation and turned every logit into NaN. Each is refused naming the file
// and the field; the values real checkpoints use still parse.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "models/model_config.h"
#include "tests/temp_dir.h"  // read_bytes

using namespace kvmix;
using Catch::Contains;
using nlohmann::json;

namespace {

const std::string kSource = "dir/config.json";

json llama31() {
  return json::parse(test::read_bytes(KVMIX_SOURCE_DIR "/tests/fixtures/models/llama-3.1-8b/config.json"));
}

}  // namespace

TEST_CASE("model config: rope_theta, rms_norm_eps and rope_scaling factors out of range are "
          "refused by name", "[model_config]") {
  struct Case {
    const char* pointer;
    json value;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"/rope_theta", 1e-300, "field 'rope_theta' must be greater than 1"},
      {"/rope_theta", 0.5, "field 'rope_theta' must be greater than 1"},
      {"/rope_theta", 1.0, "field 'rope_theta' must be greater than 1"},
      {"/rope_theta", -10000.0, "field 'rope_theta' must be a positive number"},
      {"/rms_norm_eps", 1e-300, "field 'rms_norm_eps' must be in [1e-12, 1]"},
      {"/rms_norm_eps", 2.0, "field 'rms_norm_eps' must be in [1e-12, 1]"},
      {"/rope_scaling/factor", 1e-300, "field 'rope_scaling.factor' must be at least 1"},
      {"/rope_scaling/factor", 0.5, "field 'rope_scaling.factor' must be at least 1"},
  };
  for (const Case& c : cases) {
    INFO(c.pointer << " = " << c.value.dump());
    json j = llama31();
    j[json::json_pointer(c.pointer)] = c.value;
    CHECK_THROWS_WITH(parse_model_config(j, kSource), Contains(kSource) && Contains(c.message));
  }
  // transformers 5 spelling: rope_theta inside rope_parameters is checked the same way.
  json v5 = llama31();
  v5["rope_parameters"] = v5["rope_scaling"];
  v5["rope_parameters"]["rope_theta"] = 1e-300;
  v5.erase("rope_scaling");
  v5.erase("rope_theta");
  CHECK_THROWS_WITH(parse_model_config(v5, kSource),
                    Contains(kSource) && Contains("field 'rope_theta' must be greater than 1"));
}

TEST_CASE("model config: the numerics of real checkpoints parse", "[model_config]") {
  for (double theta : {10000.0, 500000.0, 1e6, 1e7})
    for (double eps : {1e-5, 1e-6, 1e-12}) {
      json j = llama31();
      j["rope_theta"] = theta;
      j["rms_norm_eps"] = eps;
      const ModelConfig c = parse_model_config(j, kSource);
      CHECK(c.rope_theta == theta);
      CHECK(c.rms_norm_eps == eps);
    }
  json linear = llama31();
  linear["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 1.0}};
  CHECK(parse_model_config(linear, kSource).rope_scaling.factor == 1.0);
}
