#pragma once
// `kvmix eval` as a library function: several KV configs x several tasks on one split, with the
// full-precision cache first (the reference for KL), written as JSON and a table.
#include <nlohmann/json.hpp>

#include <atomic>
#include <string>
#include <vector>

#include "lib/kv_config.h"
#include "lib/cache/make_kv_cache.h"
#include "lib/tokenizer/tokenizer.h"
#include "models/model.h"
#include "models/model_kv_shape.h"  // kv_shape
#include "search/task_eval.h"
#include "search/team_work.h"

namespace kvmix {

struct EvalConfig {
  std::string name;                  // "KV8 kivi", a file name, ...
  std::vector<LayerKvFormat> layers;
  std::string scheme;                // "kivi", "per-token", "mixed", "fp16"
};

// Uniform pairs under each scheme, e.g. KV8, K8V4 ... x {kivi, per-token}.
std::vector<EvalConfig> uniform_eval_configs(const std::vector<Scheme>& schemes,
                                             const std::vector<KvPair>& pairs, int64_t layers);
// A per-layer config file (checked against the model's shape).
EvalConfig eval_config_from_file(const std::string& path, const KvShape& model);

struct EvalRunOptions {
  std::vector<TaskSpec> tasks;
  CacheKind cache = CacheKind::kPacked;
  EvalOptions eval;
  int64_t reference_tokens = 1024;  // context at which a config's bytes per token are quoted
  uint64_t seed = 0;
  // Polled after every (config, task): when set, run_eval throws kvmix::Interrupted.
  const std::atomic<bool>* stop = nullptr;
};

// The KvConfig for one set of layer formats on a model (for byte figures and export).
KvConfig make_kv_config(const Model& m, const std::vector<LayerKvFormat>& layers,
                        int64_t reference_tokens);

// Returns {"schema": "kvmix.eval", "version": 1, ..., "results": [...]}. Shares its (config, task)
// evaluations over the ranks of an MPI job (search/team_work.h); each rank computes the
// full-precision reference of a task it evaluates once.
nlohmann::json run_eval(const Model& m, const Tokenizer& tok, const std::vector<EvalConfig>& configs,
                        const EvalRunOptions& opt);

// An "eval" work item: one config (or full precision) on one task; the task's full-precision
// reference is computed once per rank and kept in `cache`.
nlohmann::json eval_work(const Model& m, const Tokenizer& tok, const nlohmann::json& item, WorkCache& cache,
                         const std::atomic<bool>* stop);

// A Markdown table of an eval JSON: one row per config, score and KL per task, bits.
std::string eval_table(const nlohmann::json& results);

}  // namespace kvmix
