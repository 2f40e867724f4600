// `kvmix policies`: eviction versus quantization at equal memory. Every token policy
// (lib/policies/) at several budgets (fractions of the fp16 cache, in true bytes), KIVI uniform
// baselines and optional kvmix per-layer configs, on held-out tasks; writes JSON, a Markdown table
// and a plot of score against true bytes (gnuplot, when installed).
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>

#include "apps/kvmix/command.h"
#include "apps/kvmix/model_options.h"
#include "kvmix_version.h"
#include "lib/atomic_file.h"
#include "lib/error.h"
#include "lib/full_kv_cache.h"
#include "lib/make_kv_cache.h"
#include "lib/policies/make_policy.h"
#include "lib/policies/policy_kv_cache.h"
#include "lib/policies/policy_report.h"
#include "lib/progress.h"
#include "models/llama_forward.h"
#include "search/eval_run.h"
#include "search/task_eval.h"

namespace kvmix::app {
namespace {

struct PoliciesOptions {
  ModelOptions model;
  std::vector<std::string> tasks = {"recall", "arith", "text"};
  std::vector<std::string> policies = {"streaming", "h2o", "snapkv", "tova",
                                       "mikv",      "zipvl", "kvcrush", "vidkv"};
  std::vector<double> budgets = {0.125, 0.25, 0.5};
  std::vector<std::string> kivi = {"KV2", "K4V2", "KV4"};  // KIVI uniform baselines
  std::vector<std::string> configs;                        // kvmix per-layer configs
  int64_t samples = 32;
  int64_t batch = 16;
  uint64_t seed = 0;
  std::string out = "policies";  // writes OUT.json, OUT.md, OUT.dat, OUT.gp, OUT.png
};

struct Run {
  std::string label, policy, family;  // label: one table row; policy: one plot line
  double budget;  // 0: no budget (baselines)
  CacheFactory factory;
};

bool gnuplot_available() { return std::system("command -v gnuplot > /dev/null 2>&1") == 0; }

int run_policies_command(const PoliciesOptions& o) {
  for (double b : o.budgets)
    KVMIX_CHECK(b > 0 && b <= 1, "--budgets: {} is not a fraction of the fp16 cache in (0, 1]", b);
  auto rt = load_runtime(o.model);
  const Model& m = rt.model;
  const KvShape shape = kv_shape(m.config);
  std::vector<TaskSpec> specs;
  for (const auto& t : split_list(o.tasks)) specs.push_back(parse_task(t, Split::kHeldOut, o.samples));
  std::vector<TaskData> data;
  for (const auto& s : specs) data.push_back(prepare_task(s, rt.tokenizer));

  std::vector<Run> runs;
  runs.push_back({"fp16", "fp16", "reference", 0, [&] { return std::make_unique<FullKvCache>(shape); }});
  for (const auto& name : split_list(o.policies)) {
    const PolicyKind kind = parse_policy(name);
    const bool mixed = kind == PolicyKind::kMikv || kind == PolicyKind::kZipvl;
    const char* family = kind == PolicyKind::kVidKv ? "quantization" : mixed ? "mixed" : "eviction";
    for (double b : o.budgets)
      runs.push_back({fmt::format("{} {:g}%", policy_name(kind), 100 * b), policy_name(kind),
                      family, b, [&shape, &m, kind, b] {
                        return std::make_unique<PolicyKvCache>(
                            shape, make_token_policy(kind, m.config.num_layers), b);
                      }});
  }
  for (const auto& p : split_list(o.kivi)) {
    const auto layers = uniform_layers(Scheme::kKivi, parse_pair(p), m.config.num_layers);
    // fake-quant: the same stored numbers and the same true-byte formula as the packed cache
    // (lib/fake_quant_kv_cache.h), and it takes the left-padded batches of the generation pass
    runs.push_back({"kivi " + p, "kivi", "quantization", 0, [&shape, layers] {
                      return make_kv_cache(CacheKind::kFakeQuant, shape, layers);
                    }});
  }
  for (const auto& f : o.configs) {
    const EvalConfig c = eval_config_from_file(f, model_shape(m));
    runs.push_back({"kvmix " + c.name, "kvmix", "quantization", 0, [&shape, layers = c.layers] {
                      return make_kv_cache(CacheKind::kFakeQuant, shape, layers);
                    }});
  }

  EvalOptions eo;
  eo.batch = o.batch;
  eo.progress = false;
  const double fp16_bytes_per_token =
      static_cast<double>(shape.layers * 2 * shape.kv_heads * shape.head_dim * shape.model_dtype_bytes);
  std::vector<ReferenceLogprobs> refs(data.size());
  nlohmann::json results = nlohmann::json::array();
  Progress progress("policies", static_cast<int64_t>(runs.size() * data.size()), true);
  for (size_t ri = 0; ri < runs.size(); ++ri) {
    const Run& r = runs[ri];
    for (size_t ti = 0; ti < data.size(); ++ti) {
      progress.set_note(r.label + " / " + data[ti].name);
      const TaskScore s = evaluate_task(m, rt.tokenizer, data[ti], r.factory, eo,
                                        ri == 0 ? nullptr : &refs[ti], ri == 0 ? &refs[ti] : nullptr);
      const double frac = s.tokens_held ? static_cast<double>(s.true_bytes) /
                                              (static_cast<double>(s.tokens_held) * fp16_bytes_per_token)
                                        : 0.0;
      results.push_back({{"label", r.label}, {"policy", r.policy}, {"family", r.family}, {"budget", r.budget},
                         {"task", s.task}, {"metric", s.metric}, {"score", s.score},
                         {"nll", s.nll}, {"kl", s.kl}, {"kl_p95", s.kl_p95},
                         {"samples", s.samples}, {"tokens", s.tokens_held},
                         {"true_bytes", s.true_bytes}, {"bytes_fraction", frac}});
      spdlog::debug("{} / {}: {} {:.4f}, {:.1f}% bytes", r.label, s.task, s.metric,
                    s.score, 100 * frac);
      progress.advance();
    }
  }
  progress.finish();

  nlohmann::json tasks = nlohmann::json::array();
  for (size_t i = 0; i < data.size(); ++i)
    tasks.push_back({{"name", data[i].name}, {"split", split_name(specs[i].split)},
                     {"samples", data[i].prompts.size()},
                     {"metric", data[i].generative ? "exact_match" : "perplexity"}});
  const nlohmann::json study{
      {"schema", "kvmix.policies"}, {"version", 1},
      {"producer", std::string("kvmix ") + KVMIX_VERSION},
      {"model", {{"path", m.source}, {"config_hash", model_config_hash(m.config)},
                 {"layers", m.config.num_layers}, {"kv_heads", shape.kv_heads},
                 {"head_dim", shape.head_dim}}},
      {"budgets", o.budgets}, {"seed", o.seed}, {"tasks", tasks}, {"results", results}};

  write_file_atomic(o.out + ".json", study.dump(2) + "\n");
  const std::string table = policy_table(study);
  write_file_atomic(o.out + ".md", table);
  const std::string dat = o.out + ".dat", gp = o.out + ".gp", png = o.out + ".png";
  write_file_atomic(dat, policy_plot_data(study));
  write_file_atomic(gp, policy_plot_script(study, dat, png));
  if (!gnuplot_available()) {
    spdlog::warn("gnuplot not found: wrote {} and {} but no plot", dat, gp);
  } else if (std::system(("gnuplot '" + gp + "'").c_str()) != 0) {
    spdlog::warn("gnuplot failed on {}: no plot", gp);
  } else {
    spdlog::info("wrote {}", png);
  }
  spdlog::info("wrote {}.json and {}.md", o.out, o.out);
  std::fputs(table.c_str(), stdout);
  return 0;
}

Command setup_policies(CLI::App& parent) {
  auto o = std::make_shared<PoliciesOptions>();
  auto* sub = parent.add_subcommand(
      "policies", "Eviction versus quantization: token policies at equal true-byte budgets");
  add_model_options(sub, o->model);
  sub->add_option("-t,--tasks", o->tasks, "Held-out tasks: recall, arith, text, or FILE.txt / FILE.jsonl")
      ->delimiter(',')->capture_default_str();
  sub->add_option("-p,--policies", o->policies,
                  "Policies: streaming, h2o, snapkv, tova, mikv, zipvl, kvcrush, vidkv")
      ->delimiter(',')->capture_default_str();
  sub->add_option("-b,--budgets", o->budgets, "Budgets, fractions of the fp16 cache")
      ->delimiter(',')->capture_default_str();
  sub->add_option("--kivi", o->kivi, "KIVI uniform baselines (pairs; empty to skip)")
      ->delimiter(',')->capture_default_str();
  sub->add_option("-c,--config", o->configs, "kvmix per-layer config file(s) as baselines");
  sub->add_option("-n,--samples", o->samples, "Samples per task")->capture_default_str();
  sub->add_option("--batch", o->batch, "Sequences per batch")->capture_default_str();
  sub->add_option("--seed", o->seed, "Seed (recorded)")->capture_default_str();
  sub->add_option("-o,--out", o->out, "Output prefix: PREFIX.json, .md, .dat, .gp, .png")
      ->capture_default_str();
  return {sub, [o] { return run_policies_command(*o); }};
}

}  // namespace
KVMIX_REGISTER_COMMAND(setup_policies);
}  // namespace kvmix::app
