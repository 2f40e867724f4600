#include "lib/kv_shape.h"

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "lib/io/json_describe.h"
#include "lib/io/json_number.h"

namespace kvmix {

void kv_shape_to_json(const KvShape& s, nlohmann::json& file) {
  file["model"] = {{"architecture", s.architecture}, {"num_hidden_layers", s.layers},
                   {"num_attention_heads", s.q_heads}, {"num_key_value_heads", s.kv_heads},
                   {"head_dim", s.head_dim}, {"config_hash", s.config_hash},
                   {"k_proj_module", s.k_proj}, {"v_proj_module", s.v_proj}};
  file["kv_dtype_bytes"] = s.model_dtype_bytes;
}

KvShape kv_shape_from_json(const nlohmann::json& file, const std::string& source) {
  KVMIX_CHECK(file.is_object() && file.contains("model") && file["model"].is_object(),
              "{}: field 'model' is required and must be an object", source);
  KVMIX_CHECK(file.contains("kv_dtype_bytes"), "{}: field 'kv_dtype_bytes' is required", source);
  const nlohmann::json& m = file["model"];
  auto field = [&](const char* key) -> const nlohmann::json& {
    KVMIX_CHECK(m.contains(key), "{}: field 'model.{}' is required", source, key);
    return m[key];
  };
  auto where = [&](const char* key) { return fmt::format("{}: field 'model.{}'", source, key); };
  auto size = [&](const char* key, int64_t hi) {
    return json_integer(field(key), 1, hi, where(key));
  };
  auto text = [&](const char* key, std::string& out) {
    if (m.contains(key)) out = json_string(m[key], where(key));
  };
  KvShape s;
  s.architecture = json_string(field("architecture"), where("architecture"));
  s.layers = size("num_hidden_layers", kMaxKvLayers);
  s.q_heads = size("num_attention_heads", kMaxKvHeads);
  s.kv_heads = size("num_key_value_heads", kMaxKvHeads);
  s.head_dim = size("head_dim", kMaxHeadDim);
  text("config_hash", s.config_hash);
  text("k_proj_module", s.k_proj);
  text("v_proj_module", s.v_proj);
  s.model_dtype_bytes = static_cast<int>(json_integer(
      file["kv_dtype_bytes"], 1, 4, fmt::format("{}: field 'kv_dtype_bytes'", source)));
  kv_shape_check(s, source);
  return s;
}

void kv_shape_check(const KvShape& s, const std::string& source) {
  KVMIX_CHECK(s.architecture == "llama" || s.architecture == "mistral" || s.architecture == "qwen2",
              "{}: field 'model.architecture' must be llama, mistral or qwen2, got {}", source,
              describe_json(s.architecture));
  auto bounded = [&](const char* key, int64_t v, int64_t hi) {
    KVMIX_CHECK(v >= 1 && v <= hi, "{}: field 'model.{}' must be in [1, {}], got {}", source, key,
                hi, v);
  };
  bounded("num_hidden_layers", s.layers, kMaxKvLayers);
  bounded("num_attention_heads", s.q_heads, kMaxKvHeads);
  bounded("num_key_value_heads", s.kv_heads, kMaxKvHeads);
  bounded("head_dim", s.head_dim, kMaxHeadDim);
  // Grouped-query attention shares each KV head among a whole number of query heads.
  KVMIX_CHECK(s.q_heads % s.kv_heads == 0,
              "{}: field 'model.num_attention_heads' {} is not a multiple of "
              "'model.num_key_value_heads' {}",
              source, s.q_heads, s.kv_heads);
  KVMIX_CHECK(s.model_dtype_bytes == 1 || s.model_dtype_bytes == 2 || s.model_dtype_bytes == 4,
              "{}: field 'kv_dtype_bytes' must be 1, 2 or 4, got {}", source, s.model_dtype_bytes);
}

void kv_shape_check_same(const KvShape& file, const KvShape& model, const std::string& source) {
  auto same = [&](const char* field, int64_t a, int64_t b) {
    KVMIX_CHECK(a == b, "{}: written for a model with {} = {}, but this model has {}", source,
                field, a, b);
  };
  same("num_hidden_layers", file.layers, model.layers);
  same("num_key_value_heads", file.kv_heads, model.kv_heads);
  same("head_dim", file.head_dim, model.head_dim);
  same("num_attention_heads", file.q_heads, model.q_heads);
}

}  // namespace kvmix
