// The one model shape: written into a file object and read back unchanged, every field of a
// hostile one checked (bounded, consistent, of the right type) with the file and the field named,
// and a file for another model refused naming the field that differs.
#include "lib/kv_shape.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "base/error.h"

using namespace kvmix;
using Catch::Contains;
using nlohmann::json;

namespace {

KvShape shape() {
  KvShape s;
  s.architecture = "qwen2";
  s.layers = 28;
  s.q_heads = 28;
  s.kv_heads = 4;
  s.head_dim = 128;
  s.model_dtype_bytes = 2;
  s.config_hash = "d89d173e270ea750";
  return s;
}

}  // namespace

TEST_CASE("kv_shape: written into a file and read back unchanged", "[kv_shape]") {
  json file = {{"schema", "anything"}};
  kv_shape_to_json(shape(), file);
  CHECK(file.at("kv_dtype_bytes") == 2);
  CHECK(file.at("model").at("num_key_value_heads") == 4);
  CHECK(file.at("schema") == "anything");  // the rest of the file is left alone
  const KvShape r = kv_shape_from_json(file, "f.json");
  CHECK(r.architecture == "qwen2");
  CHECK(r.layers == 28);
  CHECK(r.q_heads == 28);
  CHECK(r.kv_heads == 4);
  CHECK(r.head_dim == 128);
  CHECK(r.model_dtype_bytes == 2);
  CHECK(r.config_hash == "d89d173e270ea750");
  CHECK(r.k_proj == shape().k_proj);

  // Files written before the module paths were recorded: the Hugging Face names.
  file["model"].erase("k_proj_module");
  file["model"].erase("config_hash");
  const KvShape older = kv_shape_from_json(file, "f.json");
  CHECK(older.k_proj == "model.layers.{i}.self_attn.k_proj");
  CHECK(older.config_hash.empty());
}

TEST_CASE("kv_shape: every field is checked, naming the file and the field", "[kv_shape]") {
  json good;
  kv_shape_to_json(shape(), good);
  const std::vector<std::pair<std::string, json>> bad = {
      {"num_hidden_layers", 0},           {"num_hidden_layers", 4097},
      {"num_hidden_layers", 2.0},         {"num_hidden_layers", "28"},
      {"num_attention_heads", 30},        // not a multiple of 4 KV heads
      {"num_key_value_heads", int64_t{1} << 40},
      {"head_dim", 65537},                {"head_dim", -128},
      {"architecture", "gpt2"},           {"architecture", 7},
      {"config_hash", 12}};
  for (const auto& [field, value] : bad) {
    INFO(field << " = " << value.dump());
    json j = good;
    j["model"][field] = value;
    CHECK_THROWS_WITH(kv_shape_from_json(j, "f.json"),
                      Contains("f.json: field 'model." + field + "'"));
  }
  for (json v : {json(3), json(0), json(8), json(2.0), json(nullptr)}) {
    INFO(v.dump());
    json j = good;
    j["kv_dtype_bytes"] = v;
    CHECK_THROWS_WITH(kv_shape_from_json(j, "f.json"), Contains("f.json: field 'kv_dtype_bytes'"));
  }
  json j = good;
  j.erase("model");
  CHECK_THROWS_WITH(kv_shape_from_json(j, "f.json"), Contains("f.json: field 'model'"));
  j = good;
  j["model"].erase("head_dim");
  CHECK_THROWS_WITH(kv_shape_from_json(j, "f.json"), Contains("f.json: field 'model.head_dim'"));
}

TEST_CASE("kv_shape: a file for another model is refused naming the field", "[kv_shape]") {
  const KvShape s = shape();
  KvShape other = s;
  CHECK_NOTHROW(kv_shape_check_same(s, other, "f.json"));
  other.config_hash = "another";  // the hash is the caller's to compare
  CHECK_NOTHROW(kv_shape_check_same(s, other, "f.json"));
  other.head_dim = 64;
  CHECK_THROWS_WITH(kv_shape_check_same(s, other, "f.json"),
                    Contains("f.json") && Contains("head_dim = 128") && Contains("64"));
}
