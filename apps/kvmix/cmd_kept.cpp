// `kvmix kept`: the tokens an eviction policy keeps after prefill-time compression at a kept
// fraction, per layer and KV head, for checking kvmix's policies against another implementation
// of the same algorithms (tests/python/kvpress_overlap_test.py compares them with NVIDIA kvpress).
// Each prompt is one sequence (no padding); the policy sees the prefill's attention and keeps
// floor(kept * tokens) tokens per head (lib/policies/policy_kv_cache.h, kept_fraction_budget).
//
// Input: a JSON file {"prompts": [[token ids...]...], "continuations": [[token ids...]...]}
// (continuations optional, one per prompt). Output (schema kvmix.kept, version 1):
//   {"schema", "version", "model", "policy", "describe", "kept_fraction",
//    "prompts": [{"tokens": n, "layers": [[[slots kept by KV head 0...], [head 1...]]...],
//                 "nll": summed NLL of the continuation (nats), "continuation_tokens": m}]}
// The continuation is scored teacher-forced after the compressed prefill, its own tokens appended
// uncompressed (prefill-time compression only, as kvpress does: PolicyKvCache::set_prefill_only).
#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

#include "apps/kvmix/command.h"
#include "apps/kvmix/model_options.h"
#include "apps/kvmix/option_checks.h"
#include "base/error.h"
#include "lib/io/atomic_file.h"
#include "lib/io/json_file.h"
#include "lib/io/json_number.h"
#include "lib/policies/make_policy.h"
#include "lib/policies/policy_kv_cache.h"
#include "models/llama_forward.h"

namespace kvmix::app {
namespace {

struct KeptOptions {
  ModelOptions model;
  std::string policy = "snapkv";
  double kept = 0.5;             // fraction of each prompt's tokens kept per head
  std::string prompts;           // JSON {"prompts": [[ids]...], "continuations": [[ids]...]}
  double h2o_recent = 0.5;       // H2O's recent ratio (kvpress's observed attention has none: 0)
  std::string out;
};

// The id lists of field `key` of the input; min_len ids at least in each.
std::vector<std::vector<int64_t>> read_id_lists(const nlohmann::json& j, const char* key,
                                                const std::string& path, int64_t vocab,
                                                size_t min_len) {
  KVMIX_CHECK(j.at(key).is_array() && !j.at(key).empty(),
              "{}: field '{}' must be a non-empty array of token-id arrays", path, key);
  std::vector<std::vector<int64_t>> out;
  for (size_t i = 0; i < j.at(key).size(); ++i) {
    const auto& p = j.at(key)[i];
    KVMIX_CHECK(p.is_array() && p.size() >= min_len, "{}: {}[{}] must be an array of {} or more ids",
                path, key, i, min_len);
    std::vector<int64_t> ids;
    for (size_t t = 0; t < p.size(); ++t)
      ids.push_back(json_integer(p[t], 0, vocab - 1, fmt::format("{}: {}[{}][{}]", path, key, i, t)));
    out.push_back(std::move(ids));
  }
  return out;
}

// Summed NLL of `cont` after the cache holds the prompt, whose last logits [V] are given.
double continuation_nll(const Model& m, const at::Tensor& last_logits,
                        const std::vector<int64_t>& cont, KvCache& cache) {
  auto lp = at::log_softmax(last_logits.to(at::kCPU).to(at::kDouble), -1);
  double nll = -lp[cont.front()].item<double>();
  if (cont.size() > 1) {
    std::vector<int64_t> inputs(cont.begin(), cont.end() - 1);
    auto logits = forward(m, at::tensor(inputs, at::kLong).view({1, -1}), at::Tensor(), &cache);
    auto l = at::log_softmax(logits[0].to(at::kCPU).to(at::kDouble), -1);  // [m - 1, V]
    auto target = at::tensor(std::vector<int64_t>(cont.begin() + 1, cont.end()), at::kLong);
    nll -= l.gather(1, target.unsqueeze(1)).sum().item<double>();
  }
  return nll;
}

int run_kept(const KeptOptions& o) {
  const PolicyKind kind = parse_policy(o.policy);
  const Model m = load_model_only(o.model);
  const nlohmann::json input = read_json_file(o.prompts);
  KVMIX_CHECK(input.is_object() && input.contains("prompts"),
              "{}: expected {{\"prompts\": [[token ids...]...]}}", o.prompts);
  const auto prompts = read_id_lists(input, "prompts", o.prompts, m.config.vocab_size, 2);
  std::vector<std::vector<int64_t>> conts;
  if (input.contains("continuations")) {
    conts = read_id_lists(input, "continuations", o.prompts, m.config.vocab_size, 1);
    KVMIX_CHECK(conts.size() == prompts.size(), "{}: {} continuations for {} prompts", o.prompts,
                conts.size(), prompts.size());
  }
  const KvShape shape = kv_shape(m.config);
  const int64_t layers = m.config.num_layers;
  PolicyOptions po;
  po.h2o.recent_ratio = o.h2o_recent;
  const auto probe = make_token_policy(kind, layers, po);
  KVMIX_CHECK(probe->formats().k_low.kind == QuantKind::kNone &&
                  probe->formats().k_high.kind == QuantKind::kNone,
              "kept sets are for eviction policies; {} quantizes", policy_name(kind));
  const double budget = kept_fraction_budget(shape, *probe, o.kept);

  nlohmann::json out_prompts = nlohmann::json::array();
  for (size_t i = 0; i < prompts.size(); ++i) {
    const auto& ids = prompts[i];
    PolicyKvCache cache(shape, make_token_policy(kind, layers, po), budget);
    cache.set_prefill_only(true);
    const at::Tensor last = forward(m, at::tensor(ids, at::kLong).view({1, -1}), at::Tensor(),
                                    &cache, ForwardOptions{/*last_logits_only=*/true})[0][-1];
    nlohmann::json per_layer = nlohmann::json::array();
    for (int64_t l = 0; l < layers; ++l) {
      const at::Tensor live = live_slots(cache.tiers(l))[0].to(at::kCPU).contiguous();  // [Hkv, T]
      nlohmann::json heads = nlohmann::json::array();
      for (int64_t h = 0; h < live.size(0); ++h) {
        std::vector<int64_t> slots;
        for (int64_t t = 0; t < live.size(1); ++t)
          if (live[h][t].item<bool>()) slots.push_back(t);
        heads.push_back(slots);
      }
      per_layer.push_back(heads);
    }
    nlohmann::json entry = {{"tokens", ids.size()}, {"layers", per_layer}};
    if (!conts.empty()) {
      entry["nll"] = continuation_nll(m, last, conts[i], cache);
      entry["continuation_tokens"] = conts[i].size();
    }
    out_prompts.push_back(entry);
  }
  const nlohmann::json j = {{"schema", "kvmix.kept"},   {"version", 1},
                            {"model", o.model.model},   {"policy", policy_name(kind)},
                            {"describe", probe->describe()}, {"kept_fraction", o.kept},
                            {"prompts", out_prompts}};
  write_file_atomic(o.out, j.dump() + "\n");
  return 0;
}

Command setup_kept(CLI::App& parent) {
  auto o = std::make_shared<KeptOptions>();
  auto* sub = parent.add_subcommand(
      "kept", "Tokens an eviction policy keeps per layer and KV head after prefill at a kept fraction (JSON)");
  add_model_options(sub, o->model);
  sub->add_option("-p,--policy", o->policy, "Eviction policy: streaming, h2o, snapkv, tova, knorm, kvcrush")
      ->check(parsed_by([](const std::string& s) { parse_policy(s); }, "POLICY"))
      ->capture_default_str();
  sub->add_option("--kept", o->kept, "Fraction of each prompt's tokens kept per head")
      ->check(finite_in(0.0, 1.0, /*lo_open=*/true))->capture_default_str();
  sub->add_option("--prompts", o->prompts,
                  "JSON file {\"prompts\": [[token ids...]...]}, optional \"continuations\" to score")
      ->required()->check(CLI::ExistingFile);
  sub->add_option("--h2o-recent", o->h2o_recent, "H2O's recent ratio")
      ->check(finite_in(0.0, 1.0))->capture_default_str();
  sub->add_option("-o,--out", o->out, "Output JSON (schema kvmix.kept)")
      ->required()->check(output_file());
  return {sub, [o] { return run_kept(*o); }};
}

}  // namespace
KVMIX_REGISTER_COMMAND(setup_kept);
}  // namespace kvmix::app
