#include "search/eval_run.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <map>

#include "kvmix_version.h"
#include "base/error.h"
#include "lib/process/progress.h"
#include "models/device.h"
#include "lib/kv_config.h"
#include "models/llama_forward.h"
#include "search/task_work.h"

namespace kvmix {

std::vector<EvalConfig> uniform_eval_configs(const std::vector<Scheme>& schemes,
                                             const std::vector<KvPair>& pairs, int64_t layers) {
  std::vector<EvalConfig> out;
  for (Scheme s : schemes)
    for (const KvPair& p : pairs)
      out.push_back({pair_name(p) + " " + scheme_name(s), uniform_layers(s, p, layers), scheme_name(s)});
  return out;
}

EvalConfig eval_config_from_file(const std::string& path, const KvShape& model) {
  KvConfig c = load_kv_config(path);
  check_kv_config_matches(c, model, path);
  return {path.substr(path.find_last_of('/') + 1), c.layers, "mixed"};
}

KvConfig make_kv_config(const Model& m, const std::vector<LayerKvFormat>& layers,
                        int64_t reference_tokens) {
  KvConfig c;
  c.model = kv_shape(m.config);
  c.layers = layers;
  c.reference_tokens = reference_tokens;
  c.provenance.model_path = m.source;
  return c;
}

namespace {

constexpr const char* kEvalWork = "eval";

nlohmann::json score_to_json(const TaskScore& s) {
  return {{"task", s.task},        {"metric", s.metric},       {"score", s.score},
          {"nll", s.nll},          {"kl", s.kl},               {"kl_p95", s.kl_p95},
          {"samples", s.samples},  {"tokens_held", s.tokens_held}, {"true_bytes", s.true_bytes},
          {"correct", s.correct},  {"sample_kl", s.sample_kl}, {"generated", s.generated}};
}

TaskScore score_from_json(const nlohmann::json& j) {
  TaskScore s;
  s.task = j.at("task").get<std::string>();
  s.metric = j.at("metric").get<std::string>();
  s.score = j.at("score").get<double>();
  s.nll = j.at("nll").get<double>();
  s.kl = j.at("kl").get<double>();
  s.kl_p95 = j.at("kl_p95").get<double>();
  s.samples = j.at("samples").get<int64_t>();
  s.tokens_held = j.at("tokens_held").get<int64_t>();
  s.true_bytes = j.at("true_bytes").get<int64_t>();
  s.correct = j.at("correct").get<std::vector<uint8_t>>();
  // NaN (a sample without a reference) is null in JSON and NaN in CBOR.
  for (const auto& v : j.at("sample_kl")) s.sample_kl.push_back(v.is_null() ? std::nan("") : v.get<double>());
  s.generated = j.at("generated").get<std::vector<std::string>>();
  return s;
}

}  // namespace

nlohmann::json eval_work(const Model& m, const Tokenizer& tok, const nlohmann::json& item, WorkCache& cache,
                         const std::atomic<bool>* stop) {
  const auto task = task_work(cache, kEvalWork, item.at("context"), "eval work item");
  EvalOptions eval = task->eval;
  eval.stop = stop;
  const KvShape shape = kv_shape(m.config);
  const CacheFactory full = [&] { return make_kv_cache(CacheKind::kFull, shape, {}); };
  if (item.at("formats").is_null()) {
    // Full precision: scored without a reference (its KL is 0), and its log-probabilities are the
    // task's reference.
    ReferenceLogprobs out;
    const TaskScore s = evaluate_task(m, tok, task->data, full, eval, nullptr, &out);
    keep_task_reference(cache, *task, std::move(out));
    return score_to_json(s);
  }
  const std::vector<LayerKvFormat> formats = layer_formats_from_json(item.at("formats"), "eval work item");
  KVMIX_CHECK(static_cast<int64_t>(formats.size()) == m.config.num_layers, "eval work item: {} layer formats for {} layers",
              formats.size(), m.config.num_layers);
  const auto ref = task_reference(m, cache, *task, full, stop);
  const CacheKind kind = parse_cache_kind(item.at("cache").get<std::string>());
  return score_to_json(evaluate_task(m, tok, task->data, [&] { return make_kv_cache(kind, shape, formats); }, eval,
                                     ref.get(), nullptr));
}

nlohmann::json run_eval(const Model& m, const Tokenizer& tok, const std::vector<EvalConfig>& configs,
                        const EvalRunOptions& opt) {
  using nlohmann::json;
  std::vector<TaskData> data;
  for (const auto& t : opt.tasks) data.push_back(prepare_task(t, tok));

  std::vector<EvalConfig> all;
  all.push_back({"fp16", uniform_layers(Scheme::kKivi, {16, 16}, m.config.num_layers), "fp16"});
  for (const auto& c : configs)
    if (c.scheme != "fp16") all.push_back(c);

  check_eval_options(opt.eval);
  std::vector<json> contexts;
  for (const auto& d : data)
    contexts.push_back(task_work_context(d, opt.eval));
  // Task by task, full precision first: a rank then needs each task's reference once, and in a team
  // of one it is always the one the full-precision item left.
  std::vector<json> items;
  std::vector<std::pair<size_t, size_t>> cell;  // item -> (config, task)
  for (size_t ti = 0; ti < data.size(); ++ti)
    for (size_t ci = 0; ci < all.size(); ++ci) {
      const json f = ci > 0 ? layer_formats_to_json(all[ci].layers) : json(nullptr);
      items.push_back({{"kind", kEvalWork}, {"context", contexts[ti]}, {"cache", cache_kind_name(opt.cache)}, {"formats", f}});
      cell.emplace_back(ci, ti);
    }
  Progress progress("eval", static_cast<int64_t>(items.size()), opt.eval.progress);
  WorkCache cache;
  const std::vector<json> scores = share_work(m, tok, cache, items, opt.stop, [&](size_t i, const nlohmann::json&) {
    progress.set_note(all[cell[i].first].name + " / " + data[cell[i].second].name);
    progress.advance();
  });
  for (const auto& s : scores)
    if (s.is_null()) throw Interrupted("held-out evaluation stopped (nothing of it kept)");
  const KvShape shape = kv_shape(m.config);
  json results = json::array();
  for (size_t ci = 0; ci < all.size(); ++ci) {
    const auto& cfg = all[ci];
    const KvConfig kc = make_kv_config(m, cfg.layers, opt.reference_tokens);
    for (size_t ti = 0; ti < data.size(); ++ti) {
      const TaskScore s = score_from_json(scores[ti * all.size() + ci]);
      if (opt.eval.on_scored) opt.eval.on_scored(data[ti], s);
      results.push_back({
          {"config", cfg.name},
          {"scheme", cfg.scheme},
          {"task", s.task},
          {"metric", s.metric},
          {"score", s.score},
          {"nll", s.nll},
          {"kl", s.kl},
          {"kl_p95", s.kl_p95},
          {"samples", s.samples},
          {"nominal_bits", nominal_bits(kc)},
          {"true_bits_per_element", true_bits_per_element(kc, opt.reference_tokens)},
          {"bytes_per_token", total_bytes_per_token(kc, opt.reference_tokens)},
          {"measured_bytes_per_token",
           s.tokens_held ? static_cast<double>(s.true_bytes) / static_cast<double>(s.tokens_held) : 0.0},
      });
      spdlog::debug("{} / {}: {} {:.4f}, KL {:.4g}", cfg.name, s.task, s.metric, s.score, s.kl);
    }
  }
  progress.finish();

  json tasks = json::array();
  for (size_t i = 0; i < data.size(); ++i)
    tasks.push_back({{"name", data[i].name},
                     {"split", split_name(opt.tasks[i].split)},
                     {"samples", data[i].prompts.size()}});
  return json{{"schema", "kvmix.eval"},
              {"version", 1},
              {"producer", std::string("kvmix ") + KVMIX_VERSION},
              {"model", {{"path", m.source}, {"config_hash", model_config_hash(m.config)},
                         {"layers", m.config.num_layers}}},
              // Information only: another device changes the scores by rounding, not their meaning.
              {"device", device_name(model_device(m))},
              {"cache", cache_kind_name(opt.cache)},
              {"decode_chunk", opt.eval.decode_chunk},
              {"reference_tokens", opt.reference_tokens},
              {"seed", opt.seed},
              {"tasks", tasks},
              {"results", results}};
}

std::string eval_table(const nlohmann::json& r) {
  std::vector<std::string> tasks;
  for (const auto& t : r.at("tasks")) tasks.push_back(t.at("name").get<std::string>());
  std::vector<std::string> order;
  std::map<std::string, std::map<std::string, nlohmann::json>> cell;
  std::map<std::string, nlohmann::json> first;
  for (const auto& x : r.at("results")) {
    const std::string c = x.at("config").get<std::string>();
    if (!first.count(c)) order.push_back(c), first[c] = x;
    cell[c][x.at("task").get<std::string>()] = x;
  }
  std::string out = "| config | nominal bits | true bits | bytes/token |";
  std::string sep = "|---|---:|---:|---:|";
  for (const auto& t : tasks) {
    const auto& any = cell[order.front()][t];
    const bool ppl = any.at("metric") == "perplexity";
    out += fmt::format(" {} {} | {} KL |", t, ppl ? "ppl" : "EM", t);
    sep += "---:|---:|";
  }
  out += "\n" + sep + "\n";
  for (const auto& c : order) {
    const auto& f = first[c];
    out += fmt::format("| {} | {:.2f} | {:.3f} | {:.0f} |", c, f.at("nominal_bits").get<double>(),
                       f.at("true_bits_per_element").get<double>(), f.at("bytes_per_token").get<double>());
    for (const auto& t : tasks) {
      const auto& x = cell[c][t];
      const bool ppl = x.at("metric") == "perplexity";
      out += ppl ? fmt::format(" {:.3f} |", x.at("score").get<double>())
                 : fmt::format(" {:.1f}% |", 100.0 * x.at("score").get<double>());
      out += fmt::format(" {:.4f} |", x.at("kl").get<double>());
    }
    out += "\n";
  }
  return out;
}

}  // namespace kvmix
