// --device on every command that runs a model. Without a usable GPU, `--device cuda` is a usage
// error (exit status 2) naming what is missing, raised while parsing, before a model loads or a
// file is written; with one, the commands run there and record the device. Bad spellings are
// refused either way, and the CPU default (fp32 on cpu) is what it always was.
#include <catch2/catch.hpp>

#include <ATen/Context.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>

#include "lib/io/json_file.h"
#include "tests/apps/kvmix/run_kvmix.h"
#include "tests/temp_dir.h"

using namespace kvmix;
using Catch::Contains;

namespace {

// Every command that runs a model, with what it needs to get past parsing.
std::vector<std::vector<std::string>> model_commands(const test::TempDir& dir) {
  return {
      {"logits", "--tokens", "1,2"},
      {"eval", "-o", dir.file("eval.json")},
      {"profile", "-o", dir.file("sensitivity.json")},
      {"search", "--sensitivity", dir.file("sensitivity.json"), "-o", dir.file("search")},
      {"tune", "-o", dir.file("tune")},
      {"policies", "-o", dir.file("policies")},
      {"bench", "model", "--json", dir.file("bench.json")},
  };
}

std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

std::string line(const std::vector<std::string>& args) {
  std::string s = "kvmix";
  for (const auto& a : args) s += " '" + a + "'";
  return s;
}

}  // namespace

TEST_CASE("kvmix: --device names cpu, cuda or cuda:N", "[cli]") {
  test::TempDir dir;
  std::vector<std::vector<std::string>> cases;
  for (const auto& cmd : model_commands(dir))
    for (const char* bad : {"gpu", "cuda:x"}) cases.push_back(with(cmd, {"--device", bad}));
  for (const char* bad : {"cuda:-1", "CPU", "cuda:128", ""})
    cases.push_back({"logits", "--tokens", "1", "--device", bad});
  for (const auto& args : cases) {
    INFO(line(args));
    const test::KvmixRun r = test::run_kvmix(args);
    INFO("stderr: " << r.err);
    CHECK(r.status == 2);
    CHECK_THAT(r.err, Contains("--device '" + args.back() + "'") && Contains("cuda:N"));
  }
  // nothing was written: the refusal came before any work
  CHECK(std::filesystem::is_empty(dir.path()));
}

TEST_CASE("kvmix: --device cuda is refused without a GPU, and runs with one", "[cli]") {
  test::TempDir dir;
  if (!at::hasCUDA()) {
    std::vector<std::vector<std::string>> cases;
    for (const auto& cmd : model_commands(dir))
      for (const char* device : {"cuda", "cuda:1"})
        cases.push_back(with(cmd, {"--device", device}));
    // fp16 is CUDA's to allow: without CUDA, the device is what is missing
    cases.push_back({"logits", "--tokens", "1", "--dtype", "fp16", "--device", "cuda:0"});
    for (const auto& args : cases) {
      INFO(line(args));
      const test::KvmixRun r = test::run_kvmix(args);
      INFO("stderr: " << r.err);
      CHECK(r.status == 2);
      const auto flag = std::find(args.begin(), args.end(), "--device");
      const std::string device = *(flag + 1);
      CHECK_THAT(r.err,
                 Contains("--device " + device) &&
                     (Contains("has no CUDA support") || Contains("no CUDA device is visible")));
    }
    CHECK(std::filesystem::is_empty(dir.path()));
    return;
  }
  // With a GPU: the logits come from the device, in bf16 unless --dtype says otherwise.
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{}, std::vector<std::string>{"--dtype", "fp32"},
        std::vector<std::string>{"--dtype", "fp16"}}) {
    const auto args = with({"logits", "--device", "cuda", "--tokens", "72,105,33"}, extra);
    INFO(line(args));
    const test::KvmixRun r = test::run_kvmix(args);
    INFO("stderr: " << r.err);
    REQUIRE(r.status == 0);
    const nlohmann::json j = nlohmann::json::parse(r.out);
    CHECK(j.at("device") == "cuda:0");
    CHECK(j.at("dtype") == (extra.empty() ? "bf16" : extra[1]));
    CHECK(j.at("logits").size() == 3);
  }
  const std::vector<std::string> args = {"eval", "--device", "cuda", "-t", "arith", "-n", "2", "-p",
                                         "KV4",  "-s",       "kivi", "-o", dir.file("eval.json")};
  INFO(line(args));
  const test::KvmixRun r = test::run_kvmix(args);
  INFO("stderr: " << r.err);
  REQUIRE(r.status == 0);
  CHECK(read_json_file(dir.file("eval.json")).at("device") == "cuda:0");
  // an index past the device count is refused
  const test::KvmixRun past = test::run_kvmix({"logits", "--device", "cuda:127", "--tokens", "1"});
  CHECK(past.status == 2);
  CHECK_THAT(past.err, Contains("--device cuda:127") && Contains("visible CUDA device"));
}

TEST_CASE("kvmix: the CPU stays the default, in fp32", "[cli]") {
  const test::KvmixRun r = test::run_kvmix({"logits", "--tokens", "72,105"});
  INFO("stderr: " << r.err);
  REQUIRE(r.status == 0);
  const nlohmann::json j = nlohmann::json::parse(r.out);
  CHECK(j.at("device") == "cpu");
  CHECK(j.at("dtype") == "fp32");
  // and fp16 stays refused there, whether the CPU is named or not
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"logits", "--dtype", "fp16", "--tokens", "1"},
        std::vector<std::string>{"logits", "--device", "cpu", "--dtype", "fp16", "--tokens", "1"},
        std::vector<std::string>{"logits", "--dtype", "fp16", "--device", "cpu", "--tokens",
                                 "1"}}) {
    INFO(line(args));
    const test::KvmixRun f = test::run_kvmix(args);
    CHECK(f.status == 2);
    CHECK_THAT(f.err, Contains("fp16 is not supported on the CPU"));
  }
}
