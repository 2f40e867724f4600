// config.json parsing against real published configs (abridged to the fields kvmix reads), the
// round trip through model_config_to_json, the shape hash, and one malformed field per check.
#include "models/model_config.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "tests/temp_dir.h"

using namespace kvmix;
using Catch::Contains;
using nlohmann::json;

namespace {

constexpr const char* kSource = "test/config.json";

// meta-llama/Llama-3.1-8B-Instruct config.json.
json llama31_8b() {
  return json::parse(R"({
    "architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
    "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "hidden_act": "silu",
    "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 14336,
    "max_position_embeddings": 131072, "mlp_bias": false, "model_type": "llama",
    "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8,
    "pretraining_tp": 1, "rms_norm_eps": 1e-05,
    "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                     "original_max_position_embeddings": 8192, "rope_type": "llama3"},
    "rope_theta": 500000.0, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
    "transformers_version": "4.42.3", "use_cache": true, "vocab_size": 128256})");
}

// Qwen/Qwen2.5-0.5B config.json.
json qwen25_05b() {
  return json::parse(R"({
    "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
    "eos_token_id": 151643, "hidden_act": "silu", "hidden_size": 896, "initializer_range": 0.02,
    "intermediate_size": 4864, "max_position_embeddings": 32768, "max_window_layers": 24,
    "model_type": "qwen2", "num_attention_heads": 14, "num_hidden_layers": 24,
    "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
    "sliding_window": 32768, "tie_word_embeddings": true, "torch_dtype": "bfloat16",
    "transformers_version": "4.40.1", "use_cache": true, "use_mrope": false,
    "use_sliding_window": false, "vocab_size": 151936})");
}

// mistralai/Mistral-7B-v0.1 config.json.
json mistral_7b() {
  return json::parse(R"({
    "architectures": ["MistralForCausalLM"], "bos_token_id": 1, "eos_token_id": 2,
    "hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02,
    "intermediate_size": 14336, "max_position_embeddings": 32768, "model_type": "mistral",
    "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8,
    "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "sliding_window": 4096,
    "tie_word_embeddings": false, "torch_dtype": "bfloat16", "transformers_version": "4.34.0",
    "use_cache": true, "vocab_size": 32000})");
}

ModelConfig parse(const json& j) { return parse_model_config(j, kSource); }

void check_same(const ModelConfig& a, const ModelConfig& b) {
  CHECK(a.arch == b.arch);
  CHECK(a.model_type == b.model_type);
  CHECK(a.vocab_size == b.vocab_size);
  CHECK(a.hidden_size == b.hidden_size);
  CHECK(a.num_layers == b.num_layers);
  CHECK(a.num_heads == b.num_heads);
  CHECK(a.num_kv_heads == b.num_kv_heads);
  CHECK(a.head_dim == b.head_dim);
  CHECK(a.intermediate_size == b.intermediate_size);
  CHECK(a.rms_norm_eps == b.rms_norm_eps);
  CHECK(a.rope_theta == b.rope_theta);
  CHECK(a.rope_scaling.type == b.rope_scaling.type);
  CHECK(a.rope_scaling.factor == b.rope_scaling.factor);
  CHECK(a.rope_scaling.low_freq_factor == b.rope_scaling.low_freq_factor);
  CHECK(a.rope_scaling.high_freq_factor == b.rope_scaling.high_freq_factor);
  CHECK(a.rope_scaling.original_max_position_embeddings ==
        b.rope_scaling.original_max_position_embeddings);
  CHECK(a.attention_bias == b.attention_bias);
  CHECK(a.tie_word_embeddings == b.tie_word_embeddings);
  CHECK(a.max_position_embeddings == b.max_position_embeddings);
  CHECK(a.sliding_window == b.sliding_window);
  CHECK(a.bos_token_id == b.bos_token_id);
  CHECK(a.eos_token_ids == b.eos_token_ids);
  CHECK(a.torch_dtype == b.torch_dtype);
}

}  // namespace

TEST_CASE("config.json of Llama 3.1 8B", "[model_config]") {
  const ModelConfig c = parse(llama31_8b());
  CHECK(c.arch == Architecture::kLlama);
  CHECK(c.num_heads == 32);
  CHECK(c.num_kv_heads == 8);
  CHECK(c.queries_per_kv() == 4);
  CHECK(c.head_dim == 128);
  CHECK(c.rms_norm_eps == 1e-5);
  CHECK(c.rope_theta == 500000.0);
  CHECK(c.rope_scaling.type == RopeScalingType::kLlama3);
  CHECK(c.rope_scaling.factor == 8.0);
  CHECK(c.rope_scaling.original_max_position_embeddings == 8192);
  CHECK_FALSE(c.attention_bias);
  CHECK(c.eos_token_ids == std::vector<int64_t>{128001, 128008, 128009});
  CHECK(c.torch_dtype == "bfloat16");
  CHECK(c.sliding_window == 0);
}

TEST_CASE("config.json of Qwen2.5 0.5B: implicit qkv bias, tied, no window", "[model_config]") {
  const ModelConfig c = parse(qwen25_05b());
  CHECK(c.arch == Architecture::kQwen2);
  CHECK(c.attention_bias);
  CHECK(c.tie_word_embeddings);
  CHECK(c.head_dim == 64);
  CHECK(c.sliding_window == 0);  // use_sliding_window is false
  CHECK(c.eos_token_ids == std::vector<int64_t>{151643});
}

TEST_CASE("config.json of Mistral 7B: sliding window and its default", "[model_config]") {
  CHECK(parse(mistral_7b()).sliding_window == 4096);
  json j = mistral_7b();
  j["sliding_window"] = nullptr;  // Mistral 7B v0.2 and later
  CHECK(parse(j).sliding_window == 0);
  j.erase("sliding_window");  // absent: MistralConfig's default
  CHECK(parse(j).sliding_window == 4096);
}

TEST_CASE("config.json defaults follow transformers", "[model_config]") {
  json j = llama31_8b();
  for (const char* k : {"num_key_value_heads", "rope_scaling", "rope_theta", "rms_norm_eps",
                        "torch_dtype", "eos_token_id", "bos_token_id", "max_position_embeddings",
                        "architectures", "tie_word_embeddings"})
    j.erase(k);
  const ModelConfig c = parse(j);
  CHECK(c.num_kv_heads == 32);
  CHECK(c.head_dim == 4096 / 32);
  CHECK(c.rope_scaling.type == RopeScalingType::kNone);
  CHECK(c.rope_theta == 10000.0);
  CHECK(c.rms_norm_eps == 1e-6);
  CHECK(c.torch_dtype == "float32");
  CHECK(c.eos_token_ids.empty());
  CHECK(c.bos_token_id == -1);
  CHECK(c.max_position_embeddings == 2048);
  CHECK_FALSE(c.tie_word_embeddings);
}

TEST_CASE("config.json variants transformers writes", "[model_config]") {
  json j = llama31_8b();
  j["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};  // before transformers 4.43
  CHECK(parse(j).rope_scaling.type == RopeScalingType::kLinear);
  CHECK(parse(j).rope_scaling.factor == 2.0);
  j["rope_scaling"] = {{"rope_type", "default"}};
  CHECK(parse(j).rope_scaling.type == RopeScalingType::kNone);
  j.erase("torch_dtype");
  j["dtype"] = "float16";  // transformers >= 4.56
  CHECK(parse(j).torch_dtype == "float16");
  j["head_dim"] = 256;  // head_dim need not be hidden / heads
  CHECK(parse(j).head_dim == 256);

  json v5 = llama31_8b();  // transformers 5: rope_theta and the scaling in rope_parameters
  v5["rope_parameters"] = v5["rope_scaling"];
  v5["rope_parameters"]["rope_theta"] = 500000.0;
  v5.erase("rope_scaling");
  v5.erase("rope_theta");
  const ModelConfig c5 = parse(v5);
  CHECK(c5.rope_theta == 500000.0);
  CHECK(c5.rope_scaling.type == RopeScalingType::kLlama3);
  v5["rope_theta"] = 10000.0;
  CHECK_THROWS_WITH(parse(v5),
                    Contains("rope_parameters together with rope_scaling or rope_theta"));

  json q = qwen25_05b();
  q["use_sliding_window"] = true;
  q["max_window_layers"] = 0;  // every layer windowed
  CHECK(parse(q).sliding_window == 32768);
  q["max_window_layers"] = 24;  // no layer windowed
  CHECK(parse(q).sliding_window == 0);
  q["layer_types"] = std::vector<std::string>(24, "sliding_attention");  // transformers >= 4.53
  CHECK(parse(q).sliding_window == 32768);
}

TEST_CASE("model_config_to_json reads back to the same config", "[model_config]") {
  std::vector<json> sources = {llama31_8b(), qwen25_05b(), mistral_7b()};
  json linear = mistral_7b();
  linear["rope_scaling"] = {{"type", "linear"}, {"factor", 4.0}};
  linear["bos_token_id"] = nullptr;
  sources.push_back(linear);
  json windowed = qwen25_05b();
  windowed["use_sliding_window"] = true;
  windowed["max_window_layers"] = 0;
  sources.push_back(windowed);
  for (const json& src : sources) {
    INFO(src["model_type"]);
    const ModelConfig c = parse(src);
    const json written = model_config_to_json(c);
    CHECK(written["architectures"] == src["architectures"]);
    check_same(parse(written), c);
  }
}

TEST_CASE("model_config_hash depends on the shape only", "[model_config]") {
  const ModelConfig c = parse(llama31_8b());
  // Pinned: exported configs carry this hash, so the recipe must not drift silently. If the
  // recipe changes on purpose, bump "kvmix-model-shape-v1" in model_config_json.cpp and this.
  // Computed independently of kvmix with FNV-1a 64 in Python:
  //   s = "kvmix-model-shape-v1;type=llama;vocab=128256;hidden=4096;layers=32;heads=32;"
  //       "kv_heads=8;head_dim=128;intermediate=14336;qkv_bias=0;tied=0"
  //   h = 0xcbf29ce484222325
  //   for b in s.encode(): h = ((h ^ b) * 0x100000001b3) % 2**64
  CHECK(model_config_hash(c) == "cb7cf6cee19e4811");
  ModelConfig numerics = c;
  numerics.rope_theta = 1.0;
  numerics.rms_norm_eps = 1e-3;
  numerics.torch_dtype = "float32";
  CHECK(model_config_hash(numerics) == model_config_hash(c));
  ModelConfig deeper = c;
  deeper.num_layers += 1;
  CHECK(model_config_hash(deeper) != model_config_hash(c));
  ModelConfig grouped = c;
  grouped.num_kv_heads = 4;
  CHECK(model_config_hash(grouped) != model_config_hash(c));
}

TEST_CASE("malformed or unsupported config.json fields are named errors", "[model_config]") {
  struct Case {
    const char* field;
    json value;  // null erases the field
    const char* message;
  };
  const std::vector<Case> cases = {
      {"model_type", "gemma", "model_type 'gemma' is not supported"},
      {"architectures",
       {"MistralForCausalLM"},
       "architectures \"MistralForCausalLM\" does not match"},
      {"vocab_size", nullptr, "field 'vocab_size' is required"},
      {"hidden_size", "4096", "field 'hidden_size' must be an integer, got \"4096\""},
      {"hidden_size", 4096.5, "field 'hidden_size' must be an integer, got 4096.5"},
      {"num_hidden_layers", -2, "field 'num_hidden_layers' must be in [1, 16777216], got -2"},
      {"num_key_value_heads", 5,
       "num_attention_heads 32 is not a multiple of num_key_value_heads 5"},
      {"num_key_value_heads", 64,
       "num_attention_heads 32 is not a multiple of num_key_value_heads 64"},
      {"head_dim", 127, "head_dim 127 must be even"},
      {"rms_norm_eps", 0, "field 'rms_norm_eps' must be a positive number, got 0"},
      {"rope_theta", "big", "field 'rope_theta' must be a number"},
      {"rope_scaling",
       {{"rope_type", "yarn"}, {"factor", 4.0}},
       "rope_scaling type \"yarn\" is not supported"},
      {"rope_scaling",
       {{"type", "dynamic"}, {"factor", 2.0}},
       "rope_scaling type \"dynamic\" is not supported"},
      {"rope_scaling",
       {{"rope_type", "llama3"}, {"factor", 8.0}},
       "rope_scaling of type llama3 needs 'low_freq_factor'"},
      {"rope_scaling",
       {{"rope_type", "linear"}, {"factor", 2.0}, {"beta_fast", 32}},
       "rope_scaling field 'beta_fast' is not supported"},
      {"rope_scaling",
       {{"rope_type", "linear"}, {"type", "llama3"}, {"factor", 2.0}},
       "rope_scaling has type 'llama3' but rope_type 'linear'"},
      {"rope_scaling",
       {{"rope_type", "linear"}, {"factor", -1.0}},
       "field 'rope_scaling.factor' must be a positive number"},
      {"rope_scaling", 8, "field 'rope_scaling' must be null or an object, got 8"},
      {"hidden_act", "gelu", "hidden_act 'gelu' is not supported"},
      {"attention_bias", true, "attention_bias true is not supported for llama"},
      {"mlp_bias", true, "mlp_bias true is not supported"},
      {"quantization_config",
       {{"quant_method", "gptq"}},
       "quantized checkpoints are not supported"},
      {"tie_word_embeddings", 1, "field 'tie_word_embeddings' must be true or false, got 1"},
      {"eos_token_id", {128001, "x"}, "field 'eos_token_id' must be an integer, got \"x\""},
      {"eos_token_id", 999999, "field 'eos_token_id' 999999 is outside the vocabulary [0, 128256)"},
      {"torch_dtype", "int8", "torch_dtype 'int8' is not supported"},
      {"dtype", "float16", "torch_dtype 'bfloat16' disagrees with dtype 'float16'"},
  };
  for (const Case& c : cases) {
    INFO(c.field << " = " << c.value.dump());
    json j = llama31_8b();
    if (c.value.is_null())
      j.erase(c.field);
    else
      j[c.field] = c.value;
    CHECK_THROWS_WITH(parse(j), Contains(kSource) && Contains(c.message));
  }
  CHECK_THROWS_WITH(parse(json::array()), Contains("must be a JSON object"));

  json q = qwen25_05b();
  q["use_sliding_window"] = true;
  q["max_window_layers"] = 12;
  CHECK_THROWS_WITH(parse(q), Contains("12 of 24 layers use the sliding window"));
  json m = mistral_7b();
  m["hidden_size"] = 4100;
  CHECK_THROWS_WITH(parse(m),
                    Contains("hidden_size 4100 is not a multiple of num_attention_heads 32"));
}

TEST_CASE("load_model_config names the file it cannot parse", "[model_config]") {
  test::TempDir dir;
  const std::string path = dir.file("config.json");
  test::write_bytes(path, "{\"model_type\": \"llama\",");
  CHECK_THROWS_WITH(load_model_config(path), Contains(path) && Contains("not valid JSON"));
  CHECK_THROWS_WITH(load_model_config(dir.file("absent.json")), Contains("absent.json"));
  test::write_bytes(path, llama31_8b().dump());
  CHECK(load_model_config(path).num_layers == 32);
}
