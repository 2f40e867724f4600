// config.json -> ModelConfig for the Llama, Mistral and Qwen2 families, following the defaults and
// field meanings of transformers' LlamaConfig, MistralConfig and Qwen2Config. Fields that would
// change the computation in a way kvmix does not implement are refused by name, never ignored.
#include "models/model_config.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "lib/io/atomic_file.h"  // read_file
#include "lib/io/json_file.h"
#include "base/error.h"
#include "lib/io/json_describe.h"  // describe_json
#include "models/model_config_rules.h"

namespace kvmix {
namespace {

using nlohmann::json;

// Reads the fields of one config.json, naming the file and the field in every error.
class Fields {
 public:
  Fields(const json& j, const std::string& source) : j_(j), source_(source) {}

  // Absent and null both mean "use the default", as in transformers' config constructors.
  bool has(const char* key) const { return j_.contains(key) && !j_[key].is_null(); }
  bool present(const char* key) const { return j_.contains(key); }  // null counts as present
  const json& at(const char* key) const { return j_[key]; }

  int64_t integer(const char* key) const {
    KVMIX_CHECK(has(key), "{}: field '{}' is required", source_, key);
    return integer_value(at(key), key);
  }
  int64_t integer_or(const char* key, int64_t fallback) const {
    return has(key) ? integer(key) : fallback;
  }
  int64_t integer_value(const json& v, const char* key) const {
    KVMIX_CHECK(v.is_number_integer() &&
                    (!v.is_number_unsigned() ||
                     v.get<uint64_t>() <= uint64_t{std::numeric_limits<int64_t>::max()}),
                "{}: field '{}' must be an integer, got {}", source_, key, describe_json(v));
    return v.get<int64_t>();
  }
  double number_or(const char* key, double fallback) const {
    if (!has(key)) return fallback;
    KVMIX_CHECK(at(key).is_number(), "{}: field '{}' must be a number, got {}", source_, key,
                describe_json(at(key)));
    return at(key).get<double>();
  }
  bool flag_or(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    KVMIX_CHECK(at(key).is_boolean(), "{}: field '{}' must be true or false, got {}", source_, key,
                describe_json(at(key)));
    return at(key).get<bool>();
  }
  std::string string_or(const char* key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    KVMIX_CHECK(at(key).is_string(), "{}: field '{}' must be a string, got {}", source_, key,
                describe_json(at(key)));
    return at(key).get<std::string>();
  }
  const std::string& source() const { return source_; }

 private:
  const json& j_;
  const std::string& source_;
};

const ArchitectureInfo& parse_architecture(const Fields& f) {
  KVMIX_CHECK(f.has("model_type"), "{}: field 'model_type' is required", f.source());
  const std::string type = f.string_or("model_type", "");
  const ArchitectureInfo* info = find_architecture(type);
  KVMIX_CHECK(info != nullptr,
              "{}: model_type '{}' is not supported (kvmix reads llama, mistral, qwen2)",
              f.source(), type);
  if (f.has("architectures")) {
    const json& a = f.at("architectures");
    KVMIX_CHECK(a.is_array() && a.size() == 1 && a[0].is_string() && a[0] == info->class_name,
                "{}: architectures {} does not match model_type '{}' (expected [\"{}\"])",
                f.source(), a.is_array() && a.size() == 1 ? describe_json(a[0]) : describe_json(a),
                type, info->class_name);
  }
  return *info;
}

// Fields whose non-default values change the computation in ways kvmix does not implement.
void refuse_unsupported(const Fields& f, Architecture arch) {
  const std::string act = f.string_or("hidden_act", "silu");
  KVMIX_CHECK(act == "silu", "{}: hidden_act '{}' is not supported (kvmix implements silu)",
              f.source(), act);
  KVMIX_CHECK(!f.has("quantization_config"),
              "{}: quantization_config is present: quantized checkpoints are not supported",
              f.source());
  KVMIX_CHECK(!f.flag_or("mlp_bias", false), "{}: mlp_bias true is not supported", f.source());
  KVMIX_CHECK(f.number_or("partial_rotary_factor", 1.0) == 1.0,
              "{}: partial_rotary_factor {} is not supported (kvmix rotates the whole head)",
              f.source(), f.number_or("partial_rotary_factor", 1.0));
  // Llama's attention_bias adds a bias to o_proj as well as q/k/v (LlamaAttention); kvmix's
  // weights carry q/k/v biases only, which is Qwen2's layout.
  if (arch != Architecture::kQwen2)
    KVMIX_CHECK(!f.flag_or("attention_bias", false),
                "{}: attention_bias true is not supported for {} (it adds an o_proj bias)",
                f.source(), f.string_or("model_type", ""));
}

// rope_scaling, or transformers 5's rope_parameters (`field`), which also holds rope_theta.
RopeScaling parse_rope_scaling(const Fields& f, const char* field) {
  RopeScaling r;
  if (!f.has(field)) return r;
  const json& s = f.at(field);
  KVMIX_CHECK(s.is_object(), "{}: field '{}' must be null or an object, got {}", f.source(), field,
              describe_json(s));
  const Fields rs(s, f.source());
  // "type" is the key before transformers 4.43, "rope_type" after; either may appear, or both.
  const std::string type = rs.string_or("rope_type", rs.string_or("type", ""));
  KVMIX_CHECK(!rs.has("type") || rs.string_or("type", "") == type,
              "{}: rope_scaling has type '{}' but rope_type '{}'", f.source(),
              rs.string_or("type", ""), type);
  std::vector<std::string> allowed = {"type", "rope_type", "rope_theta"};
  KVMIX_CHECK(std::string(field) == "rope_parameters" || !rs.present("rope_theta"),
              "{}: rope_theta belongs in the top level, not in rope_scaling", f.source());
  if (type == "default") {  // transformers' name for unscaled RoPE
    r.type = RopeScalingType::kNone;
  } else if (type == "linear") {
    r.type = RopeScalingType::kLinear;
    r.factor = rs.number_or("factor", 0.0);
    allowed.push_back("factor");
  } else if (type == "llama3") {
    r.type = RopeScalingType::kLlama3;
    for (const char* k :
         {"factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"})
      KVMIX_CHECK(rs.has(k), "{}: rope_scaling of type llama3 needs '{}'", f.source(), k);
    r.factor = rs.number_or("factor", 0.0);
    r.low_freq_factor = rs.number_or("low_freq_factor", 0.0);
    r.high_freq_factor = rs.number_or("high_freq_factor", 0.0);
    r.original_max_position_embeddings = rs.integer("original_max_position_embeddings");
    allowed.insert(allowed.end(), {"factor", "low_freq_factor", "high_freq_factor",
                                   "original_max_position_embeddings"});
  } else {
    throw Error(
        fmt::format("{}: rope_scaling type {} is not supported (kvmix implements linear "
                    "and llama3)",
                    f.source(),
                    describe_json(s.contains("rope_type") ? s["rope_type"]
                                  : s.contains("type")    ? s["type"]
                                                          : s)));
  }
  for (const auto& [k, v] : s.items())
    KVMIX_CHECK(std::find(allowed.begin(), allowed.end(), k) != allowed.end(),
                "{}: {} field '{}' is not supported for type '{}'", f.source(), field, k, type);
  return r;
}

// The sliding window, 0 for none. Mistral's default is MistralConfig's 4096. Qwen2 windows a
// layer only with use_sliding_window, and then either the layers listed as "sliding_attention"
// in layer_types (transformers >= 4.53) or those at index >= max_window_layers. kvmix has one
// window for all layers, so a mix of windowed and full-attention layers is refused.
int64_t parse_sliding_window(const Fields& f, Architecture arch, int64_t num_layers) {
  if (arch == Architecture::kMistral) {
    if (!f.present("sliding_window")) return kMistralDefaultSlidingWindow;
    return f.integer_or("sliding_window", 0);
  }
  if (arch != Architecture::kQwen2) return 0;
  const int64_t window =
      f.flag_or("use_sliding_window", false) ? f.integer_or("sliding_window", 0) : 0;
  int64_t windowed = 0;  // layers that would use the window
  if (f.has("layer_types")) {
    const json& types = f.at("layer_types");
    KVMIX_CHECK(types.is_array() && static_cast<int64_t>(types.size()) == num_layers,
                "{}: layer_types must list num_hidden_layers {} entries, got {}", f.source(),
                num_layers, describe_json(types));
    for (const json& t : types) {
      KVMIX_CHECK(t == "full_attention" || t == "sliding_attention",
                  "{}: layer_types entry {} is not supported (full_attention, sliding_attention)",
                  f.source(), describe_json(t));
      windowed += t == "sliding_attention";
    }
  } else {
    const int64_t first = f.integer_or("max_window_layers", kQwen2DefaultMaxWindowLayers);
    windowed = num_layers - std::clamp<int64_t>(first, 0, num_layers);
  }
  if (window == 0 || windowed == 0) return 0;
  KVMIX_CHECK(windowed == num_layers,
              "{}: {} of {} layers use the sliding window and the others full attention, which "
              "kvmix does not support",
              f.source(), windowed, num_layers);
  return window;
}

std::vector<int64_t> parse_eos(const Fields& f) {
  if (!f.has("eos_token_id")) return {};
  const json& v = f.at("eos_token_id");
  if (!v.is_array()) return {f.integer_value(v, "eos_token_id")};
  std::vector<int64_t> ids;
  for (const json& e : v) ids.push_back(f.integer_value(e, "eos_token_id"));
  return ids;
}

// transformers writes the weights' dtype as "torch_dtype", and as "dtype" since 4.56.
std::string parse_torch_dtype(const Fields& f) {
  const std::string a = f.string_or("torch_dtype", ""), b = f.string_or("dtype", "");
  KVMIX_CHECK(a.empty() || b.empty() || a == b, "{}: torch_dtype '{}' disagrees with dtype '{}'",
              f.source(), a, b);
  const std::string d = a.empty() ? (b.empty() ? "float32" : b) : a;
  KVMIX_CHECK(d == "float32" || d == "float16" || d == "bfloat16",
              "{}: torch_dtype '{}' is not supported (float32, float16, bfloat16)", f.source(), d);
  return d;
}

}  // namespace

ModelConfig parse_model_config(const json& j, const std::string& source) {
  KVMIX_CHECK(j.is_object(), "{}: config.json must be a JSON object, got {}", source,
              describe_json(j));
  const Fields f(j, source);
  const ArchitectureInfo& arch = parse_architecture(f);
  refuse_unsupported(f, arch.arch);

  ModelConfig c;
  c.arch = arch.arch;
  c.model_type = arch.model_type;
  c.vocab_size = f.integer("vocab_size");
  c.hidden_size = f.integer("hidden_size");
  c.num_layers = f.integer("num_hidden_layers");
  c.num_heads = f.integer("num_attention_heads");
  c.num_kv_heads = f.integer_or("num_key_value_heads", c.num_heads);
  KVMIX_CHECK(f.has("head_dim") || (c.num_heads > 0 && c.hidden_size % c.num_heads == 0),
              "{}: hidden_size {} is not a multiple of num_attention_heads {} and head_dim is not "
              "given",
              source, c.hidden_size, c.num_heads);
  c.head_dim = f.integer_or("head_dim", c.num_heads > 0 ? c.hidden_size / c.num_heads : 0);
  c.intermediate_size = f.integer("intermediate_size");
  c.rms_norm_eps = f.number_or("rms_norm_eps", kDefaultRmsNormEps);
  // transformers 5 moves rope_theta and the scaling into rope_parameters; a config holding both
  // spellings could say two things, so that is refused.
  if (f.has("rope_parameters")) {
    KVMIX_CHECK(!f.has("rope_scaling") && !f.has("rope_theta"),
                "{}: rope_parameters together with rope_scaling or rope_theta is ambiguous",
                source);
    c.rope_scaling = parse_rope_scaling(f, "rope_parameters");
    c.rope_theta =
        Fields(f.at("rope_parameters"), source).number_or("rope_theta", kDefaultRopeTheta);
  } else {
    c.rope_theta = f.number_or("rope_theta", kDefaultRopeTheta);
    c.rope_scaling = parse_rope_scaling(f, "rope_scaling");
  }
  c.attention_bias = arch.arch == Architecture::kQwen2;  // Qwen2Attention: q/k/v always biased
  c.tie_word_embeddings = f.flag_or("tie_word_embeddings", false);
  c.max_position_embeddings = f.integer_or("max_position_embeddings", arch.default_max_positions);
  c.sliding_window = parse_sliding_window(f, arch.arch, c.num_layers);
  c.bos_token_id = f.integer_or("bos_token_id", -1);
  c.eos_token_ids = parse_eos(f);
  c.torch_dtype = parse_torch_dtype(f);
  validate_model_config(c, source);
  return c;
}

ModelConfig load_model_config(const std::string& path) {
  return parse_model_config(read_json_file(path), path);
}

}  // namespace kvmix
