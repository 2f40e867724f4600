#include "search/policy_study.h"

#include <ATen/ATen.h>
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>

#include "kvmix_version.h"
#include "lib/io/atomic_file.h"              // append_line_synced
#include "base/error.h"
#include "lib/io/json_describe.h"
#include "lib/cache/full_kv_cache.h"
#include "lib/cache/make_kv_cache.h"
#include "lib/kv_config.h"
#include "lib/policies/policy_kv_cache.h"
#include "lib/process/progress.h"
#include "lib/rng.h"                      // fnv1a64
#include "models/device.h"                // device_name
#include "models/llama_forward.h"         // kv_shape
#include "models/rope.h"                  // rope_inv_freq
#include "search/front.h"
#include "search/policy_journal.h"
#include "search/task_eval.h"
#include "search/task_work.h"
#include "search/team_work.h"

namespace kvmix {
namespace {

using nlohmann::json;

constexpr const char* kPolicyWork = "policy_run";
// Elements per tensor that go into the weights fingerprint: a retrained checkpoint changes them
// all, and reading a few thousand numbers costs nothing next to one evaluation.
constexpr int64_t kFingerprintElements = 64;

struct Run {
  std::string label, policy, family;  // label: one table row; policy: one plot line
  double budget = 0;                  // 0: no budget (baselines)
  std::string cache;                  // the cache with its parameters: part of a journal key
  // What any rank needs to build the run's cache (run_cache_factory): {"type": "fp16"},
  // {"type": "policy", "policy", "budget", "options"} or {"type": "formats", "formats"}.
  json spec;
};

std::string layers_description(const std::vector<LayerKvFormat>& layers) {
  std::string s;
  for (size_t l = 0; l < layers.size(); ++l)
    s += fmt::format("{}K {} V {}", l ? "; " : "", format_name(layers[l].k),
                     format_name(layers[l].v));
  return s;
}

json formats_spec(const std::vector<LayerKvFormat>& formats) {
  return {{"type", "formats"}, {"formats", layer_formats_to_json(formats)}};
}

// StreamingLLM at positions within the cache needs the model's RoPE frequencies.
PolicyOptions with_model_rope(const Model& m, PolicyOptions po) {
  if (po.streaming.cache_positions) {
    const at::Tensor f = rope_inv_freq(m.config).to(at::kCPU).to(at::kDouble).contiguous();
    po.streaming.rope_inv_freq.assign(f.data_ptr<double>(), f.data_ptr<double>() + f.numel());
  }
  return po;
}

CacheFactory run_cache_factory(const Model& m, const json& spec) {
  const KvShape shape = kv_shape(m.config);
  const int64_t layers = m.config.num_layers;
  const std::string type = spec.at("type").get<std::string>();
  if (type == "fp16") return [shape] { return std::make_unique<FullKvCache>(shape); };
  if (type == "policy") {
    const PolicyKind kind = parse_policy(spec.at("policy").get<std::string>());
    const double b = spec.at("budget").get<double>();
    KVMIX_CHECK(b > 0 && b <= 1, "policy run: budget {} is not in (0, 1]", b);
    const PolicyOptions po = with_model_rope(m, policy_options_from_json(spec.at("options"), "policy run"));
    return [shape, layers, kind, b, po] {
      return std::make_unique<PolicyKvCache>(shape, make_token_policy(kind, layers, po), b);
    };
  }
  KVMIX_CHECK(type == "formats", "policy run of unknown type '{}'", type);
  const std::vector<LayerKvFormat> formats = layer_formats_from_json(spec.at("formats"), "policy run");
  KVMIX_CHECK(static_cast<int64_t>(formats.size()) == layers, "policy run: {} layer formats for {} layers",
              formats.size(), layers);
  // fake-quant: the same stored numbers and the same true-byte formula as the packed cache
  // (lib/cache/fake_quant_kv_cache.h), and it takes the left-padded batches of the generation pass
  return [shape, formats] { return make_kv_cache(CacheKind::kFakeQuant, shape, formats); };
}

std::vector<Run> study_runs(const Model& m, const PolicyStudyOptions& o) {
  const int64_t layers = m.config.num_layers;
  std::vector<Run> runs;
  runs.push_back({"fp16", "fp16", "reference", 0, "fp16", {{"type", "fp16"}}});
  const PolicyOptions po = with_model_rope(m, o.policy);
  for (PolicyKind kind : o.policies) {
    const bool mixed = kind == PolicyKind::kMikv || kind == PolicyKind::kZipvl;
    const char* family = kind == PolicyKind::kVidKv ? "quantization" : mixed ? "mixed" : "eviction";
    const std::string policy = make_token_policy(kind, layers, po)->describe();
    for (double b : o.budgets)
      runs.push_back({fmt::format("{} {:g}%", policy_name(kind), 100 * b), policy_name(kind), family, b,
                      fmt::format("{} at budget {}", policy, b),
                      {{"type", "policy"},
                       {"policy", policy_name(kind)},
                       {"budget", b},
                       {"options", policy_options_to_json(o.policy)}}});
  }
  for (const KvPair& p : o.kivi) {
    const auto formats = uniform_layers(Scheme::kKivi, p, layers);
    runs.push_back({"kivi " + pair_name(p), "kivi", "quantization", 0, layers_description(formats),
                    formats_spec(formats)});
  }
  for (const EvalConfig& c : o.configs)
    runs.push_back({"kvmix " + c.name, "kvmix", "quantization", 0, layers_description(c.layers),
                    formats_spec(c.layers)});
  for (const BudgetConfig& c : o.budget_configs)
    runs.push_back({fmt::format("kvmix {:g}%", 100 * c.budget), "kvmix", "quantization", c.budget,
                    layers_description(c.config.layers), formats_spec(c.config.layers)});
  return runs;
}

void hash_tensor_sample(const at::Tensor& t, std::string& bytes) {
  if (!t.defined() || t.numel() == 0) return;
  const at::Tensor flat = t.reshape({-1});
  const int64_t step = std::max<int64_t>(1, flat.numel() / kFingerprintElements);
  const at::Tensor sample = flat.slice(0, 0, flat.numel(), step).to(at::kCPU).contiguous();
  bytes.append(static_cast<const char*>(sample.data_ptr()), sample.nbytes());
}

// The model's path and config hash do not tell a checkpoint retrained in place from the one a
// journal was written with; a sample of every weight tensor does.
std::string weights_fingerprint(const Model& m) {
  const ModelWeights& w = m.weights;
  std::string bytes;
  for (const at::Tensor* t : {&w.embed, &w.final_norm, &w.lm_head}) hash_tensor_sample(*t, bytes);
  for (const LayerWeights& L : w.layers)
    for (const at::Tensor* t : {&L.input_norm, &L.wq, &L.wk, &L.wv, &L.wo, &L.bq, &L.bk, &L.bv,
                                &L.post_norm, &L.w_gate, &L.w_up, &L.w_down})
      hash_tensor_sample(*t, bytes);
  return fmt::format("{:016x}", fnv1a64(bytes));
}

std::string task_fingerprint(const TaskData& d) {
  const json j = {{"generative", d.generative}, {"scoring", static_cast<int>(d.scoring)},
                  {"max_new_tokens", d.max_new_tokens}, {"prompts", d.prompts},
                  {"continuations", d.continuations}, {"answers", d.answers}};
  return fmt::format("{:016x}", fnv1a64(j.dump()));
}

// What every journal entry's numbers depend on besides its run and task: the model. The batch
// size is left out: sequences are scored one by one (padding is never attended, budgets hold per
// sequence), so a job that ran out of memory may resume with a smaller batch. The seed is only
// recorded.
json study_identity(const Model& m) {
  return {{"model",
           {{"path", m.source},
            {"config_hash", model_config_hash(m.config)},
            {"dtype", std::string(c10::toString(m.weights.embed.scalar_type()))},
            {"weights", weights_fingerprint(m)}}}};
}

// The task's fingerprint rather than its name alone: two data files of the same name, or a task
// generated with other options, are other runs. Keys of runs and tasks, not the list of them, so a
// study rerun with more budgets or tasks still reads back what it shares with the first.
json journal_key(const Run& r, const TaskData& d, const std::string& data_fingerprint) {
  return {{"label", r.label}, {"budget", r.budget}, {"cache", r.cache}, {"task", d.name},
          {"data", data_fingerprint}};
}

// Summed teacher-forced NLL and token count of each sample, from its log-probs [len, vocab]: what
// the bootstrap interval of a perplexity resamples (lib/policies/score_intervals.h).
std::pair<std::vector<double>, std::vector<int64_t>> per_sample_nll(
    const TaskData& d, const std::vector<at::Tensor>& logprobs) {
  std::vector<double> nll;
  std::vector<int64_t> tokens;
  for (size_t i = 0; i < d.continuations.size(); ++i) {
    const auto& c = d.continuations[i];
    if (c.empty() || i >= logprobs.size()) {
      nll.push_back(0.0);
      tokens.push_back(0);
      continue;
    }
    const auto& lp = logprobs[i];
    auto target = at::tensor(c, at::kLong).to(lp.device()).unsqueeze(1);
    nll.push_back(-lp.gather(1, target).sum().item<double>());
    tokens.push_back(static_cast<int64_t>(c.size()));
  }
  return {nll, tokens};
}

// Bytes of one token's K and V over every layer in the fp16 cache: the 100% of every budget.
double fp16_bytes_per_token(const KvShape& shape) {
  return static_cast<double>(shape.layers * 2 * shape.kv_heads * shape.head_dim * shape.model_dtype_bytes);
}

}  // namespace

std::vector<BudgetConfig> front_budget_configs(const std::vector<std::string>& front_paths,
                                               const std::vector<double>& budgets, const KvShape& model) {
  struct Candidate {
    const Front* front;
    const FrontPoint* point;
    const std::string* path;
  };
  std::vector<Front> fronts;
  for (const auto& path : front_paths) {
    fronts.push_back(load_front(path));
    kv_shape_check_same(fronts.back().sensitivity.model, model, path);
  }
  const double fp16_bytes = fp16_bytes_per_token(model);
  std::vector<BudgetConfig> out;
  for (double b : budgets) {
    std::optional<Candidate> best;
    for (size_t f = 0; f < fronts.size(); ++f)
      for (const FrontPoint& p : fronts[f].points)
        if (p.bytes_per_token <= b * fp16_bytes && (!best || p.kl < best->point->kl))
          best = Candidate{&fronts[f], &p, &front_paths[f]};
    if (!best) {
      spdlog::info("budget {:g}% ({:g} bytes per token): no point of the fronts fits", 100 * b,
                   b * fp16_bytes);
      continue;
    }
    BudgetConfig c;
    c.budget = b;
    c.config.name = fmt::format("{:g}%", 100 * b);
    c.config.scheme = "mixed";
    for (size_t p : best->point->layer_pairs) c.config.layers.push_back(pair_formats(best->front->sensitivity, p));
    spdlog::info("budget {:g}%: {} point at {:g} bytes per token ({:.3f} true bits), calibration KL {:.4g}",
                 100 * b, *best->path, best->point->bytes_per_token, best->point->true_bits, best->point->kl);
    out.push_back(std::move(c));
  }
  return out;
}

json policy_run_work(const Model& m, const Tokenizer& tok, const json& item, WorkCache& cache,
                     const std::atomic<bool>* stop) {
  const auto task = task_work(cache, kPolicyWork, item.at("context"), "policy work item");
  EvalOptions eo = task->eval;
  eo.stop = stop;
  const TaskData& data = task->data;
  const double fp16_bytes = fp16_bytes_per_token(kv_shape(m.config));
  const CacheFactory factory = run_cache_factory(m, item.at("run"));
  TaskScore s;
  std::vector<at::Tensor> logprobs;  // this run's: the per-sample NLL of the intervals
  if (item.at("reference").get<bool>()) {
    ReferenceLogprobs out;
    s = evaluate_task(m, tok, data, factory, eo, nullptr, &out);
    logprobs = out.logprobs;
    keep_task_reference(cache, *task, std::move(out));
  } else {
    const auto ref = task_reference(m, cache, *task, run_cache_factory(m, {{"type", "fp16"}}), stop);
    ReferenceLogprobs own;
    s = evaluate_task(m, tok, data, factory, eo, ref.get(), &own);
    logprobs = std::move(own.logprobs);
  }
  const auto [sample_nll, sample_tokens] = per_sample_nll(data, logprobs);
  const double frac = s.tokens_held ? static_cast<double>(s.true_bytes) /
                                          (static_cast<double>(s.tokens_held) * fp16_bytes)
                                    : 0.0;
  json result = {{"task", s.task},         {"metric", s.metric},         {"score", s.score},
                 {"nll", s.nll},           {"kl", s.kl},                 {"kl_p95", s.kl_p95},
                 {"samples", s.samples},   {"tokens", s.tokens_held},    {"true_bytes", s.true_bytes},
                 {"bytes_fraction", frac}, {"sample_nll", sample_nll},   {"sample_tokens", sample_tokens}};
  if (s.metric == "exact_match") result["correct"] = s.correct;
  return result;
}

std::vector<PolicyStudyTask> prepare_policy_study_tasks(const std::vector<TaskSpec>& specs,
                                                        const Tokenizer& tok) {
  std::vector<PolicyStudyTask> out;
  for (const auto& s : specs) out.push_back({prepare_task(s, tok), s.split});
  return out;
}

json run_policy_study(const Model& m, const Tokenizer& tok,
                      const std::vector<PolicyStudyTask>& tasks, const PolicyStudyOptions& opt) {
  for (double b : opt.budgets)
    KVMIX_CHECK(b > 0 && b <= 1, "budget {} is not a fraction of the fp16 cache in (0, 1]", b);
  const KvShape shape = kv_shape(m.config);
  const std::vector<Run> runs = study_runs(m, opt);
  const double fp16_bytes = fp16_bytes_per_token(shape);

  std::vector<std::string> fingerprints;
  for (const auto& t : tasks) fingerprints.push_back(task_fingerprint(t.data));
  std::map<std::string, PolicyJournalEntry> done;
  if (!opt.journal_path.empty()) {
    done = open_policy_journal(opt.journal_path, study_identity(m), fp16_bytes);
    size_t found = 0;
    for (const Run& r : runs)
      for (size_t ti = 0; ti < tasks.size(); ++ti)
        found += done.count(journal_key(r, tasks[ti].data, fingerprints[ti]).dump());
    if (found > 0)
      spdlog::info("{}: {} of {} runs finished earlier, read back instead of evaluated",
                   opt.journal_path, found, runs.size() * tasks.size());
  }

  // The (run, task) pairs the journal does not hold, evaluated over the ranks of an MPI job
  // (search/team_work.h), each journaled as it arrives: a killed job loses at most those in flight.
  std::vector<json> contexts;
  for (const auto& t : tasks) {
    EvalOptions eval;
    eval.batch = opt.batch;
    contexts.push_back(task_work_context(t.data, eval));
  }
  std::vector<std::optional<json>> cell(runs.size() * tasks.size());
  std::vector<json> items;
  std::vector<size_t> item_cell;
  std::vector<json> keys(cell.size());
  Progress progress("policies", static_cast<int64_t>(cell.size()), opt.progress);
  for (size_t ri = 0; ri < runs.size(); ++ri)
    for (size_t ti = 0; ti < tasks.size(); ++ti) {
      const size_t c = ri * tasks.size() + ti;
      const TaskData& data = tasks[ti].data;
      keys[c] = journal_key(runs[ri], data, fingerprints[ti]);
      if (auto it = done.find(keys[c].dump()); it != done.end()) {
        // The key names the task's data by fingerprint, so these hold for an honest journal.
        const json& r = it->second.result;
        KVMIX_CHECK(r["samples"] == data.prompts.size(),
                    "{}: field 'result.samples' is {}, but task {} has {} samples",
                    it->second.where, describe_json(r["samples"]), data.name, data.prompts.size());
        KVMIX_CHECK(r["metric"] == (data.generative ? "exact_match" : "perplexity"),
                    "{}: field 'result.metric' is {}, but task {} is scored by {}",
                    it->second.where, describe_json(r["metric"]), data.name,
                    data.generative ? "exact_match" : "perplexity");
        cell[c] = r;
        progress.advance();
        continue;
      }
      // In the study's order, fp16 first: a rank keeps each task's reference once made (WorkCache).
      items.push_back({{"kind", kPolicyWork}, {"context", contexts[ti]}, {"run", runs[ri].spec}, {"reference", ri == 0}});
      item_cell.push_back(c);
    }
  WorkCache cache;
  share_work(m, tok, cache, items, opt.stop, [&](size_t i, const json& score) {
    const size_t c = item_cell[i];
    const Run& r = runs[c / tasks.size()];
    json result = {{"label", r.label}, {"policy", r.policy}, {"family", r.family}, {"budget", r.budget}};
    result.update(score);
    spdlog::debug("{} / {}: {} {:.4f}, {:.1f}% bytes", r.label, result["task"].get<std::string>(),
                  result["metric"].get<std::string>(), result["score"].get<double>(),
                  100 * result["bytes_fraction"].get<double>());
    if (!opt.journal_path.empty()) {
      if (policy_result_journalable(result))
        append_line_synced(opt.journal_path, json{{"run", keys[c]}, {"result", result}}.dump());
      else
        spdlog::warn("{} / {}: a non-finite score is not journaled", r.label, result["task"].get<std::string>());
    }
    progress.set_note(r.label + " / " + result["task"].get<std::string>());
    progress.advance();
    cell[c] = std::move(result);
  });
  json results = json::array();
  for (const auto& r : cell) {
    if (!r) throw Interrupted(fmt::format("policy study stopped; finished runs are kept{}",
                                          opt.journal_path.empty() ? "" : " in " + opt.journal_path));
    results.push_back(*r);
  }
  progress.finish();

  json task_list = json::array();
  for (const auto& t : tasks)
    task_list.push_back({{"name", t.data.name}, {"split", split_name(t.split)},
                         {"samples", t.data.prompts.size()},
                         {"metric", t.data.generative ? "exact_match" : "perplexity"}});
  return {{"schema", "kvmix.policies"}, {"version", 1},
          {"producer", std::string("kvmix ") + KVMIX_VERSION},
          {"model", {{"path", m.source}, {"config_hash", model_config_hash(m.config)},
                     {"layers", m.config.num_layers}, {"kv_heads", shape.kv_heads},
                     {"head_dim", shape.head_dim}}},
          {"device", device_name(model_device(m))},  // information: not part of the identity
          {"budgets", opt.budgets}, {"seed", opt.seed}, {"tasks", task_list}, {"results", results}};
}

}  // namespace kvmix
