// Checkpoints written by save_model load back bit for bit (Llama, Qwen2 with biases, tied
// embeddings, grouped-query attention, shards); damaged or inconsistent folders are named errors.
#include "models/loader.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "lib/io/safetensors.h"
#include "models/checkpoint_index.h"
#include "tests/temp_dir.h"

using namespace kvmix;
using Catch::Contains;
using nlohmann::json;
using test::TempDir;

namespace {

namespace fs = std::filesystem;

ModelConfig tiny_config(Architecture arch, int64_t kv_heads, bool tied) {
  ModelConfig c;
  c.arch = arch;
  c.model_type = arch == Architecture::kQwen2     ? "qwen2"
                 : arch == Architecture::kMistral ? "mistral"
                                                  : "llama";
  c.vocab_size = 32;
  c.hidden_size = 16;
  c.num_layers = 2;
  c.num_heads = 4;
  c.num_kv_heads = kv_heads;
  c.head_dim = 4;
  c.intermediate_size = 24;
  c.attention_bias = arch == Architecture::kQwen2;
  c.tie_word_embeddings = tied;
  c.bos_token_id = 1;
  c.eos_token_ids = {2};
  return c;
}

ModelWeights random_weights(const ModelConfig& c, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  ModelWeights w;
  resize_layers(w, c);
  for (const TensorSlot& s : tensor_slots(w, c)) *s.tensor = at::randn(s.shape, gen);
  tie_embeddings(w, c);
  return w;
}

// Every tensor of `got` equals the matching tensor of `want` after a round trip through `via`.
void check_equal(const ModelConfig& c, ModelWeights want, ModelWeights got, at::ScalarType via,
                 at::ScalarType compute) {
  const auto a = tensor_slots(want, c), b = tensor_slots(got, c);
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    INFO(a[i].name);
    CHECK(b[i].tensor->scalar_type() == compute);
    CHECK(b[i].tensor->equal(a[i].tensor->to(via).to(compute)));
  }
  if (c.tie_word_embeddings) CHECK(got.lm_head.is_same(got.embed));
}

json read_json(const std::string& path) { return json::parse(test::read_bytes(path)); }
void write_json(const std::string& path, const json& j) { test::write_bytes(path, j.dump()); }

// Saves a tiny Llama and returns its folder's weights file and config.
struct SavedLlama {
  TempDir dir;
  ModelConfig config = tiny_config(Architecture::kLlama, 2, false);
  ModelWeights weights = random_weights(config, 11);
  SavedLlama() { save_model(dir.path(), config, weights, at::kFloat); }
  std::string weights_file() const { return dir.file(kWeightsFileName); }
  // Rewrites model.safetensors with `tensors` replaced or added, `drop` removed.
  void rewrite(const std::vector<NamedTensor>& tensors, const std::string& drop = "") {
    std::vector<NamedTensor> all;
    ModelWeights w = weights;
    for (const TensorSlot& s : tensor_slots(w, config))
      if (s.name != drop) all.push_back({s.name, *s.tensor});
    for (const NamedTensor& t : tensors) {
      auto it = std::find_if(all.begin(), all.end(), [&](auto& x) { return x.name == t.name; });
      if (it == all.end())
        all.push_back(t);
      else
        it->tensor = t.tensor;
    }
    write_safetensors(weights_file(), all);
  }
};

}  // namespace

TEST_CASE("save_model and load_model round-trip exactly", "[loader]") {
  struct Case {
    const char* what;
    Architecture arch;
    int64_t kv_heads;
    bool tied;
    at::ScalarType storage, compute;
  };
  const Case cases[] = {
      {"llama fp32", Architecture::kLlama, 4, false, at::kFloat, at::kFloat},
      {"llama grouped-query, bf16 stored", Architecture::kLlama, 1, false, at::kBFloat16,
       at::kFloat},
      {"qwen2 with bias, tied, fp16", Architecture::kQwen2, 2, true, at::kHalf, at::kHalf},
      {"mistral computed in bf16", Architecture::kMistral, 2, false, at::kFloat, at::kBFloat16},
  };
  for (const Case& k : cases) {
    INFO(k.what);
    TempDir dir;
    const ModelConfig c = tiny_config(k.arch, k.kv_heads, k.tied);
    const ModelWeights w = random_weights(c, 42);
    save_model(dir.path(), c, w, k.storage);
    const LoadedModel m = load_model(dir.path(), k.compute);
    CHECK(m.dir == dir.path());
    CHECK(m.config.num_kv_heads == k.kv_heads);
    CHECK(m.config.attention_bias == (k.arch == Architecture::kQwen2));
    CHECK(m.config.torch_dtype == read_json(dir.file("config.json"))["torch_dtype"]);
    check_equal(c, w, m.weights, k.storage, k.compute);
    CHECK(read_json(dir.file("generation_config.json"))["eos_token_id"] == 2);
  }
}

TEST_CASE("save_model shards past max_shard_bytes and load_model reads the shards", "[loader]") {
  TempDir dir;
  const ModelConfig c = tiny_config(Architecture::kQwen2, 2, false);
  const ModelWeights w = random_weights(c, 5);
  // embed is 32 x 16 fp32 = 2048 bytes, the largest tensor: it gets a shard alone
  save_model(dir.path(), c, w, at::kFloat, /*max_shard_bytes=*/2048);
  const ShardIndex index = load_shard_index(dir.file(kShardIndexFileName));
  std::set<std::string> shards;
  for (const auto& [name, shard] : index.weight_map) shards.insert(shard);
  CHECK(shards.size() > 2);
  CHECK(index.weight_map.at("model.embed_tokens.weight") == shard_file_name(1, shards.size()));
  for (const std::string& s : shards) CHECK(fs::file_size(dir.file(s)) <= 2048 + 4096);
  CHECK_FALSE(fs::exists(dir.file(kWeightsFileName)));
  check_equal(c, w, load_model(dir.path(), at::kFloat).weights, at::kFloat, at::kFloat);

  // Saving unsharded over it removes the index and the shards.
  save_model(dir.path(), c, w, at::kFloat);
  CHECK_FALSE(fs::exists(dir.file(kShardIndexFileName)));
  for (const std::string& s : shards) CHECK_FALSE(fs::exists(dir.file(s)));
  check_equal(c, w, load_model(dir.path(), at::kFloat).weights, at::kFloat, at::kFloat);
}

TEST_CASE("load_model skips harmless extra tensors", "[loader]") {
  SavedLlama ck;
  ck.rewrite({{"model.layers.0.self_attn.rotary_emb.inv_freq", at::ones({2})}});
  CHECK_NOTHROW(load_model(ck.dir.path(), at::kFloat));

  TempDir dir;  // a tied model that also stores lm_head, equal to the embedding
  const ModelConfig c = tiny_config(Architecture::kLlama, 2, true);
  const ModelWeights w = random_weights(c, 3);
  save_model(dir.path(), c, w, at::kFloat);
  std::vector<NamedTensor> all;
  ModelWeights copy = w;
  for (const TensorSlot& s : tensor_slots(copy, c)) all.push_back({s.name, *s.tensor});
  all.push_back({"lm_head.weight", w.embed});
  write_safetensors(dir.file(kWeightsFileName), all);
  const LoadedModel m = load_model(dir.path(), at::kFloat);
  CHECK(m.weights.lm_head.is_same(m.weights.embed));
  all.back().tensor = w.embed + 1;
  write_safetensors(dir.file(kWeightsFileName), all);
  CHECK_THROWS_WITH(load_model(dir.path(), at::kFloat),
                    Contains("'lm_head.weight' differs from 'model.embed_tokens.weight'"));
}

TEST_CASE("load_model names the file and tensor of each inconsistency", "[loader]") {
  SavedLlama ck;
  const std::string dir = ck.dir.path(), weights = ck.weights_file(),
                    config = ck.dir.file("config.json");
  const std::string wq = "model.layers.1.self_attn.q_proj.weight";

  SECTION("missing tensor") {
    ck.rewrite({}, wq);
    CHECK_THROWS_WITH(load_model(dir, at::kFloat), Contains(weights) &&
                                                       Contains("missing tensor '" + wq + "'") &&
                                                       Contains("[16, 16]"));
  }
  SECTION("unknown extra tensor") {
    ck.rewrite({{"model.layers.0.mlp.extra.weight", at::ones({2})}});
    CHECK_THROWS_WITH(load_model(dir, at::kFloat),
                      Contains(weights) && Contains("'model.layers.0.mlp.extra.weight'"));
  }
  SECTION("shape disagreeing with config.json") {
    json j = read_json(config);
    j["intermediate_size"] = 32;
    write_json(config, j);
    CHECK_THROWS_WITH(
        load_model(dir, at::kFloat),
        Contains(weights) && Contains("tensor 'model.layers.0.mlp.gate_proj.weight' has "
                                      "shape [24, 16] but config.json implies [32, 16]"));
  }
  SECTION("dtype disagreeing with config.json") {
    json j = read_json(config);
    j["torch_dtype"] = "bfloat16";
    write_json(config, j);
    CHECK_THROWS_WITH(load_model(dir, at::kFloat),
                      Contains(weights) && Contains("is stored as F32 but config.json says "
                                                    "torch_dtype 'bfloat16' (BF16)"));
  }
  SECTION("unsupported architecture") {
    json j = read_json(config);
    j["model_type"] = "gpt2";
    j["architectures"] = {"GPT2LMHeadModel"};
    write_json(config, j);
    CHECK_THROWS_WITH(load_model(dir, at::kFloat),
                      Contains(config) && Contains("model_type 'gpt2' is not supported"));
  }
  SECTION("NaN weight") {
    at::Tensor bad = ck.weights.layers[1].wq.clone();
    bad[3][5] = std::nan("");
    ck.rewrite({{wq, bad}});
    CHECK_THROWS_WITH(load_model(dir, at::kFloat),
                      Contains(weights) && Contains("tensor '" + wq + "' has 1 NaN or infinite"));
  }
  SECTION("weight overflowing the compute dtype") {
    at::Tensor big = ck.weights.layers[0].w_up.clone();
    big[0][0] = 1e6;  // finite in fp32, past fp16's largest value 65504
    ck.rewrite({{"model.layers.0.mlp.up_proj.weight", big}});
    CHECK_NOTHROW(load_model(dir, at::kFloat));
    CHECK_THROWS_WITH(load_model(dir, at::kHalf), Contains("after conversion to float16"));
  }
  SECTION("truncated weights file") {
    const std::string bytes = test::read_bytes(weights);
    test::write_bytes(weights, bytes.substr(0, bytes.size() - 100));
    CHECK_THROWS_WITH(load_model(dir, at::kFloat), Contains(weights) && Contains("run past"));
  }
  SECTION("no weights at all") {
    fs::remove(weights);
    CHECK_THROWS_WITH(load_model(dir, at::kFloat), Contains("no model.safetensors"));
  }
  SECTION("missing config.json") {
    fs::remove(config);
    CHECK_THROWS_WITH(load_model(dir, at::kFloat), Contains(config));
  }
  SECTION("non-float compute dtype") {
    CHECK_THROWS_WITH(load_model(dir, at::kInt), Contains("not supported"));
  }
}

TEST_CASE("load_model checks a shard index against its shards", "[loader]") {
  TempDir dir;
  const ModelConfig c = tiny_config(Architecture::kLlama, 2, true);
  save_model(dir.path(), c, random_weights(c, 9), at::kBFloat16, /*max_shard_bytes=*/1024);
  const std::string index_path = dir.file(kShardIndexFileName);
  json index = read_json(index_path);
  const std::string first = index["weight_map"]["model.embed_tokens.weight"];

  SECTION("tensor in the index missing from its shard") {
    index["weight_map"]["model.layers.0.self_attn.rotary_emb.inv_freq"] = first;
    write_json(index_path, index);
    CHECK_THROWS_WITH(load_model(dir.path(), at::kFloat),
                      Contains(dir.file(first)) &&
                          Contains("'model.layers.0.self_attn.rotary_emb.inv_freq' listed in"));
  }
  SECTION("shard holding a tensor the index does not list") {
    const std::string norm = "model.layers.0.input_layernorm.weight";
    const std::string shard = index["weight_map"][norm];
    index["weight_map"].erase(norm);  // its shard still holds q_proj, which the index lists
    write_json(index_path, index);
    CHECK_THROWS_WITH(load_model(dir.path(), at::kFloat), Contains(dir.file(shard)) &&
                                                              Contains("'" + norm + "'") &&
                                                              Contains("does not list"));
  }
  SECTION("index pointing outside the folder") {
    index["weight_map"]["model.norm.weight"] = "../elsewhere.safetensors";
    write_json(index_path, index);
    CHECK_THROWS_WITH(load_model(dir.path(), at::kFloat),
                      Contains(index_path) && Contains("'model.norm.weight'"));
  }
  SECTION("missing shard file") {
    fs::remove(dir.file(first));
    CHECK_THROWS_WITH(load_model(dir.path(), at::kFloat),
                      Contains(dir.file(first)) && Contains("cannot open"));
  }
}

TEST_CASE("save_model refuses weights that do not fit the config", "[loader]") {
  TempDir dir;
  const ModelConfig c = tiny_config(Architecture::kLlama, 2, false);
  ModelWeights w = random_weights(c, 1);
  w.layers[0].wk = at::zeros({4, 16});
  CHECK_THROWS_WITH(save_model(dir.path(), c, w, at::kFloat),
                    Contains("'model.layers.0.self_attn.k_proj.weight' has shape [4, 16] but the "
                             "config implies [8, 16]"));
  w = random_weights(c, 1);
  CHECK_THROWS_WITH(save_model(dir.path(), c, w, at::kLong), Contains("not supported"));
  CHECK_FALSE(fs::exists(dir.file(kWeightsFileName)));
}
