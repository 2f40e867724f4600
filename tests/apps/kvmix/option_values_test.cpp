// Bad option values are refused while the command line is parsed (or first thing in the command),
// with exit status 2 and a message naming the option, before a model is loaded or a file written.
// Each case below once did something else: spun forever (--decode-chunk 0), failed inside libtorch
// (--batch -5, bench --tokens 33, --dtype fp16 on the CPU), ran nothing and exited 0 (-p ""), took
// minutes (--threads 100000), or overwrote its own input (eval -c c.json -o c.json).
#include <catch2/catch.hpp>

#include <filesystem>

#include "lib/kv_config.h"
#include "tests/apps/kvmix/run_kvmix.h"
#include "tests/lib/export/small_config.h"
#include "tests/temp_dir.h"

using namespace kvmix;
using Catch::Contains;

namespace {

struct Refusal {
  std::vector<std::string> args;
  std::string message;  // what stderr must contain (the option's name, usually)
};

void check_refused(const std::vector<Refusal>& cases) {
  for (const Refusal& c : cases) {
    std::string line;
    for (const auto& a : c.args) line += " '" + a + "'";
    INFO("kvmix" << line);
    const test::KvmixRun r = test::run_kvmix(c.args);
    INFO("stderr: " << r.err);
    CHECK(r.status == 2);
    CHECK_THAT(r.err, Contains(c.message));
  }
}

}  // namespace

TEST_CASE("kvmix: numbers out of range are usage errors", "[cli]") {
  check_refused({
      {{"eval", "--decode-chunk", "0"}, "--decode-chunk"},
      {{"eval", "--decode-chunk", "-1"}, "--decode-chunk"},
      {{"eval", "--batch", "0"}, "--batch"},
      {{"eval", "--batch", "-5"}, "--batch"},
      {{"eval", "--samples", "0"}, "--samples"},
      {{"eval", "--threads", "100000"}, "--threads"},
      {{"eval", "--threads", "-1"}, "--threads"},
      {{"logits", "--threads", "100000", "--tokens", "1"}, "--threads"},
      {{"policies", "--budgets", "0"}, "--budgets"},
      {{"policies", "--budgets", "1.5"}, "--budgets"},
      {{"policies", "--batch", "0"}, "--batch"},
      {{"bench", "kernels", "--tokens", "1"}, "--tokens"},
      {{"bench", "kernels", "--tokens", "33"}, "--tokens"},
      {{"bench", "kernels", "--tokens", "99999999999"}, "--tokens"},
      {{"bench", "kernels", "--attention-tokens", "-5"}, "--attention-tokens"},
      {{"bench", "kernels", "--threads", "-1"}, "--threads"},
      {{"bench", "model", "--threads", "100000"}, "--threads"},
  });
}

TEST_CASE("kvmix: --dtype fp16 is refused up front on the CPU", "[cli]") {
  check_refused({
      {{"logits", "--dtype", "fp16", "--tokens", "1,2"}, "fp16 is not supported on the CPU"},
      {{"eval", "--dtype", "fp16"}, "fp16 is not supported on the CPU"},
      {{"bench", "model", "--dtype", "fp16"}, "fp16 is not supported on the CPU"},
  });
}

TEST_CASE("kvmix: empty lists and unknown names are usage errors", "[cli]") {
  test::TempDir dir;
  const std::string config = dir.file("config.json");
  save_kv_config(test::small_config(), config);
  check_refused({
      {{"logits", "--tokens", ""}, "--tokens"},
      {{"eval", "-p", ""}, "--pairs"},
      {{"eval", "--pairs=,"}, "--pairs"},
      {{"eval", "-t", ""}, "--tasks"},
      {{"eval", "-s", ""}, "--schemes"},
      {{"eval", "-s", "bogus"}, "unknown scheme 'bogus'"},
      {{"eval", "-p", "K5V2"}, "K5V2"},
      {{"eval", "-t", dir.file("missing.txt")}, "missing.txt"},
      {{"eval", "--cache", "bogus"}, "--cache"},
      {{"policies", "-p", "bogus"}, "--policies"},
      {{"policies", "-t", ""}, "--tasks"},
      {{"export", config, "--to", ""}, "--to"},
      {{"export", config, "--to", "bogus"}, "unknown export target 'bogus'"},
      {{"import-kvtuner", config, "--model-config", config, "--tokens", "0"}, "--tokens"},
      {{"import-kvtuner", config, "--model-config", config, "--scheme", "bogus"}, "--scheme"},
  });
}

TEST_CASE("kvmix: an output that is one of the command's inputs is refused", "[cli]") {
  test::TempDir dir;
  const std::string cfg = dir.file("c.json");
  save_kv_config(test::small_config(), cfg);
  const std::string cfg_text = test::read_bytes(cfg);
  const std::string preset = dir.file("p_kivi.yaml");
  std::filesystem::copy_file(KVMIX_SOURCE_DIR
                             "/tests/fixtures/kvtuner/Meta-Llama-3.1-8B-Instruct_kivi_KVTuner4_1.yaml",
                             preset);
  const std::string preset_text = test::read_bytes(preset);
  // export names its file after the target: a config saved under that name in the output folder.
  const std::string hf_named = dir.file("hf_quantized_cache.json");
  save_kv_config(test::small_config(), hf_named);
  const std::string hf_text = test::read_bytes(hf_named);
  check_refused({
      {{"eval", "-c", cfg, "-o", cfg}, "would replace the input"},
      {{"eval", "-c", cfg, "-o", dir.path() + "/./c.json"}, "would replace the input"},
      {{"import-kvtuner", preset, "--model-config",
        KVMIX_SOURCE_DIR "/tests/fixtures/models/llama-3.1-8b/config.json", "-o", preset},
       "would replace the input"},
      {{"export", hf_named, "--to", "hf", "-o", dir.path()}, "would replace the input"},
      {{"compare", cfg, hf_named, "--plot", cfg}, "would replace the input"},
      {{"policies", "-c", cfg, "-o", dir.file("c")}, "would replace the input"},
  });
  CHECK(test::read_bytes(cfg) == cfg_text);
  CHECK(test::read_bytes(preset) == preset_text);
  CHECK(test::read_bytes(hf_named) == hf_text);
}

TEST_CASE("kvmix export: a config one target cannot take writes nothing and names the file",
          "[cli]") {
  test::TempDir dir;
  // Keys in per-channel groups of 64 tokens, values per token on head_dim 32: transformers' one
  // q_group_size (64) cannot group the values' channels, so the hf target fails; the kvtuner
  // target before it succeeds, and used to be written before the failure.
  KvConfig c = test::small_config();
  for (auto& l : c.layers) {
    l.k = uniform_format(4, QuantAxis::kPerChannel, 64, 64);
    l.v = uniform_format(4, QuantAxis::kPerToken, 0, 0);
  }
  const std::string config = dir.file("wide.json");
  save_kv_config(c, config);
  const std::string out = dir.file("out");
  const test::KvmixRun r = test::run_kvmix({"export", config, "--to", "all", "-o", out});
  INFO("stderr: " << r.err);
  CHECK(r.status == 1);
  CHECK_THAT(r.err, Contains(config) && Contains("cannot export to hf") && Contains("axis_value"));
  CHECK((!std::filesystem::exists(out) || std::filesystem::is_empty(out)));
}
