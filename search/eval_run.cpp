#include "search/eval_run.h"

#include <spdlog/spdlog.h>

#include <map>

#include "kvmix_version.h"
#include "base/error.h"
#include "lib/process/progress.h"
#include "models/device.h"
#include "models/llama_forward.h"

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

nlohmann::json run_eval(const Model& m, const Tokenizer& tok, const std::vector<EvalConfig>& configs,
                        const EvalRunOptions& opt) {
  using nlohmann::json;
  std::vector<TaskData> data;
  for (const auto& t : opt.tasks) data.push_back(prepare_task(t, tok));

  std::vector<EvalConfig> all;
  all.push_back({"fp16", uniform_layers(Scheme::kKivi, {16, 16}, m.config.num_layers), "fp16"});
  for (const auto& c : configs)
    if (c.scheme != "fp16") all.push_back(c);

  const KvShape shape = kv_shape(m.config);
  json results = json::array();
  std::vector<ReferenceLogprobs> refs(data.size());
  EvalOptions eval = opt.eval;  // checks the stop request before every batch as well
  if (opt.stop) eval.stop = opt.stop;
  Progress progress("eval", static_cast<int64_t>(all.size() * data.size()), opt.eval.progress);
  for (size_t ci = 0; ci < all.size(); ++ci) {
    const auto& cfg = all[ci];
    const KvConfig kc = make_kv_config(m, cfg.layers, opt.reference_tokens);
    const CacheKind kind = ci == 0 ? CacheKind::kFull : opt.cache;
    CacheFactory factory = [&, kind] { return make_kv_cache(kind, shape, cfg.layers); };
    for (size_t ti = 0; ti < data.size(); ++ti) {
      progress.set_note(cfg.name + " / " + data[ti].name);
      const TaskScore s = evaluate_task(m, tok, data[ti], factory, eval,
                                        ci == 0 ? nullptr : &refs[ti], ci == 0 ? &refs[ti] : nullptr);
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
      progress.advance();
      if (opt.stop && *opt.stop) throw Interrupted("held-out evaluation stopped (nothing of it kept)");
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
