// run_profile on a tiny random model against what quantization theory says each cell must show:
// a lossless pair measures exactly nothing, 8 bits almost nothing, and every error grows as bits
// drop; bytes per token against a hand count; sensitivity.json written and read back unchanged;
// a profile refused, naming its file, for a model of another shape.
#include <catch2/catch.hpp>

#include <cmath>
#include <map>

#include "base/error.h"
#include "lib/kv_config.h"
#include "lib/tokenizer/tokenizer.h"
#include "models/model_kv_shape.h"  // kv_shape
#include "search/profile.h"
#include "search/sensitivity.h"
#include "tests/models/random_model.h"
#include "tests/search/byte_model.h"
#include "tests/temp_dir.h"

using namespace kvmix;

namespace {

// Asymmetric b-bit rounding leaves an error uniform in +-s/2 with s = range/(2^b - 1): RMS
// s/sqrt(12). A group of 32 roughly Gaussian values spans about 7 sigma, so at 8 bits the relative
// RMS error is about 7/255/sqrt(12) = 0.008; the bound allows 2.5x for heavier-tailed groups.
constexpr double kKv8RelErrMax = 0.02;
// The same estimate at 2 bits (s = range/3) gives about 0.5 for K and V; even with KIVI's
// full-precision residual holding a third of a short prompt they stay far above this floor, which
// only proves that quantization happened at all. (The attention output averages the errors of
// many keys and values, so it gets no floor.)
constexpr double kKv2RelErrMin = 0.05;
// KL ~ 0.5 Var(logit shift); an attention output off by kKv8RelErrMax moves this model's logits
// (of order 1) by at most about that much: 0.5 * 0.02^2 = 2e-4.
constexpr double kKv8KlMax = 2e-4;
// A full-precision pair replays bit-identical computations; only summation order could differ.
constexpr double kLosslessMax = 1e-9;

using test::byte_tokenizer;
ModelConfig profile_config() { return test::byte_model_config(); }

const std::vector<std::string> kPairNames = {"KV16", "KV8", "KV4", "KV2"};

// Pairs compared by name: Catch prints a vector of strings when a check fails.
std::vector<std::string> names(const std::vector<KvPair>& pairs) {
  std::vector<std::string> out;
  for (const auto& p : pairs) out.push_back(pair_name(p));
  return out;
}

// One profile per scheme, shared by the test cases (the cells are the expensive part).
const Sensitivity& profiled(Scheme scheme) {
  static std::map<Scheme, Sensitivity> cache;
  if (auto it = cache.find(scheme); it != cache.end()) return it->second;
  const Model m = test::random_model(profile_config());
  ProfileOptions po;
  po.scheme = scheme;
  po.pairs.clear();
  for (const auto& n : kPairNames) po.pairs.push_back(parse_pair(n));
  po.tasks = {parse_task("arith", Split::kCalibration, 3)};
  po.batch = 2;  // two batches: the per-sample statistics accumulate across them
  po.max_continuation = 8;
  po.progress = false;
  return cache.emplace(scheme, run_profile(m, byte_tokenizer(), po)).first->second;
}

}  // namespace

TEST_CASE("profile: a lossless pair measures nothing, and error grows as bits drop", "[search][profile]") {
  const Scheme scheme = GENERATE(Scheme::kPerToken, Scheme::kKivi);
  const Sensitivity& s = profiled(scheme);
  INFO(scheme_name(scheme));
  REQUIRE(s.cells.size() == 3);
  REQUIRE(names(s.pairs) == kPairNames);
  CHECK(s.samples == 3);
  CHECK(s.tasks == std::vector<std::string>{"arith"});
  enum { kKv16, kKv8, kKv4, kKv2 };
  for (size_t l = 0; l < s.cells.size(); ++l) {
    INFO("layer " << l);
    const auto& row = s.cells[l];
    for (const auto& c : row)
      for (double v : {c.k_rel_err, c.v_rel_err, c.attn_tv, c.out_rel_err, c.kl, c.kl_p90})
        CHECK((std::isfinite(v) && v >= 0));
    for (ErrorMetric m : {ErrorMetric::kKRelErr, ErrorMetric::kVRelErr, ErrorMetric::kAttnTv,
                          ErrorMetric::kOutRelErr, ErrorMetric::kKl}) {
      INFO(error_metric_name(m));
      CHECK(cell_error(row[kKv16], m) <= kLosslessMax);
      CHECK(cell_error(row[kKv8], m) < cell_error(row[kKv2], m));
    }
    for (ErrorMetric m : {ErrorMetric::kKRelErr, ErrorMetric::kVRelErr, ErrorMetric::kOutRelErr}) {
      INFO(error_metric_name(m));
      CHECK(cell_error(row[kKv8], m) < kKv8RelErrMax);
      CHECK(cell_error(row[kKv8], m) < cell_error(row[kKv4], m));
      CHECK(cell_error(row[kKv4], m) < cell_error(row[kKv2], m));
    }
    CHECK(row[kKv2].k_rel_err > kKv2RelErrMin);
    CHECK(row[kKv2].v_rel_err > kKv2RelErrMin);
    CHECK(row[kKv8].kl < kKv8KlMax);
    CHECK(row[kKv16].bytes_per_token > row[kKv8].bytes_per_token);
    CHECK(row[kKv8].bytes_per_token > row[kKv4].bytes_per_token);
    CHECK(row[kKv4].bytes_per_token > row[kKv2].bytes_per_token);
  }
}

TEST_CASE("profile: per-token bytes per token by hand", "[search][profile]") {
  const Sensitivity& s = profiled(Scheme::kPerToken);
  // Per token, KV head and side (K or V): 32 dims x b bits packed in 32-bit words, plus one group
  // (G = head_dim) with an fp16 scale and an fp16 zero = 4 bytes; no residual window.
  // 2 KV heads x 2 sides x (32 b / 8 + 4).
  const double expected[] = {0, 2 * 2 * (32.0 + 4), 2 * 2 * (16.0 + 4), 2 * 2 * (8.0 + 4)};
  for (size_t l = 0; l < s.cells.size(); ++l)
    for (size_t p = 1; p < 4; ++p) CHECK(s.cells[l][p].bytes_per_token == expected[p]);
}

TEST_CASE("profile: sensitivity.json round trip keeps every field", "[search][profile]") {
  const Sensitivity& s = profiled(Scheme::kKivi);
  test::TempDir dir;
  save_sensitivity(s, dir.file("sensitivity.json"));
  const Sensitivity r = load_sensitivity(dir.file("sensitivity.json"));
  CHECK(r.model.architecture == s.model.architecture);
  CHECK(r.model.layers == s.model.layers);
  CHECK(r.model.q_heads == s.model.q_heads);
  CHECK(r.model.kv_heads == s.model.kv_heads);
  CHECK(r.model.head_dim == s.model.head_dim);
  CHECK(r.model.config_hash == s.model.config_hash);
  CHECK(r.scheme == s.scheme);
  CHECK(names(r.pairs) == names(s.pairs));
  CHECK(r.tasks == s.tasks);
  CHECK(r.samples == s.samples);
  CHECK(r.continuation_tokens == s.continuation_tokens);
  CHECK(r.reference_tokens == s.reference_tokens);
  CHECK(r.model.model_dtype_bytes == s.model.model_dtype_bytes);
  CHECK(r.full_precision_bytes_per_token == s.full_precision_bytes_per_token);
  REQUIRE(r.cells.size() == s.cells.size());
  // nlohmann::json prints doubles with 17 significant digits, which read back exactly.
  for (size_t l = 0; l < s.cells.size(); ++l) {
    REQUIRE(r.cells[l].size() == s.cells[l].size());
    for (size_t p = 0; p < s.cells[l].size(); ++p) {
      const auto &a = r.cells[l][p], &b = s.cells[l][p];
      INFO("layer " << l << " pair " << p);
      CHECK(a.k_rel_err == b.k_rel_err);
      CHECK(a.k_rel_err_std == b.k_rel_err_std);
      CHECK(a.v_rel_err == b.v_rel_err);
      CHECK(a.v_rel_err_std == b.v_rel_err_std);
      CHECK(a.attn_tv == b.attn_tv);
      CHECK(a.attn_tv_std == b.attn_tv_std);
      CHECK(a.out_rel_err == b.out_rel_err);
      CHECK(a.out_rel_err_std == b.out_rel_err_std);
      CHECK(a.kl == b.kl);
      CHECK(a.kl_std == b.kl_std);
      CHECK(a.kl_p90 == b.kl_p90);
      CHECK(a.bytes_per_token == b.bytes_per_token);
    }
  }
}

TEST_CASE("profile: a missing file or another model's profile is refused, naming the file",
          "[search][profile]") {
  test::TempDir dir;
  const std::string missing = dir.file("nothing.json");
  CHECK_THROWS_WITH(load_sensitivity(missing), Catch::Contains(missing));

  const std::string path = dir.file("sensitivity.json");
  save_sensitivity(profiled(Scheme::kKivi), path);
  const Sensitivity s = load_sensitivity(path);
  auto deeper = profile_config();
  deeper.num_layers = 4;
  const Model other = test::random_model(deeper);
  CHECK_THROWS_WITH(check_kv_config_matches(KvConfig{s.model, {}, {}}, kv_shape(other.config), path),
                    Catch::Contains(path) && Catch::Contains("num_hidden_layers"));
  CHECK(kv_shape(other.config).config_hash != s.model.config_hash);
}
