#pragma once
// The policy study behind `kvmix policies`: eviction versus quantization at equal memory. Every
// token policy (lib/policies/) at several budgets (fractions of the fp16 cache, in true bytes),
// KIVI uniform baselines and optional kvmix per-layer configs, each on every held-out task, with
// the full-precision cache first (the reference for KL and the 100% of true bytes).
//
// The result is the JSON that lib/policies/policy_report.h documents and turns into a table and a
// plot:
//   {"schema": "kvmix.policies", "version": 1, "producer", "model", "budgets", "seed",
//    "tasks": [{"name", "split", "samples", "metric"}...],
//    "results": [{"label", "policy", "family", "budget", "task", "metric", "score", "nll", "kl",
//                 "kl_p95", "samples", "tokens", "true_bytes", "bytes_fraction",
//                 "sample_nll", "sample_tokens", and for exact match "correct"}...]}
// where sample_nll and sample_tokens are each sample's summed teacher-forced NLL and token count
// and correct each sample's 0/1: what the table's 95% intervals are computed from.
// with one result per (run, task), runs in the order fp16, policies x budgets, KIVI, configs, the
// configs at budgets.
//
// A full study is hours of evaluations on a real model, so each finished (run, task) result can be
// appended to a journal (one JSON line, fsynced, like the search's journal in search/journal.h).
// The same study started again reads it back instead of re-evaluating: a killed job loses at most
// the run in flight. The journal's first line names the model (path, config, a sample of its
// weights), and a journal of another model is refused rather than mixed in; each entry names its
// run (cache and parameters) and its task (a fingerprint of the tokens), so a study rerun with more
// budgets or tasks reads back what it shares with the first.
#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "lib/kv_pair.h"                // KvPair
#include "lib/policies/make_policy.h"   // PolicyKind
#include "lib/tasks/task.h"             // Split
#include "lib/tokenizer/tokenizer.h"
#include "models/model.h"
#include "search/eval_run.h"            // EvalConfig
#include "search/task_data.h"           // TaskData, TaskSpec
#include "search/team_work.h"

namespace kvmix {

// One task as the study evaluates it: its tokens, and the split they came from (recorded).
struct PolicyStudyTask {
  TaskData data;
  Split split = Split::kHeldOut;
};

// Materializes the tasks (the study evaluates on what it is given; callers pass held-out specs).
std::vector<PolicyStudyTask> prepare_policy_study_tasks(const std::vector<TaskSpec>& specs,
                                                        const Tokenizer& tok);

// A kvmix per-layer config standing at one of the study's budgets (the run "kvmix B%").
struct BudgetConfig {
  double budget = 0;  // fraction of the fp16 cache
  EvalConfig config;
};

// For each budget, the configuration a kvmix search recommends there: the lowest calibration KL
// among the fronts' points (front.json, search/front.h; for example one `kvmix search
// --budget-bits` run per budget) whose bytes per token fit in budget x the model's fp16 bytes per
// token. A budget that no point fits gets none (logged). A front of another model shape is a
// kvmix::Error naming its file.
std::vector<BudgetConfig> front_budget_configs(const std::vector<std::string>& front_paths,
                                               const std::vector<double>& budgets, const KvShape& model);

struct PolicyStudyOptions {
  std::vector<PolicyKind> policies = all_policies();
  PolicyOptions policy;  // their parameters; StreamingLLM's RoPE frequencies are filled from the model
  std::vector<double> budgets = {0.125, 0.25, 0.5};  // fractions of the fp16 cache, each in (0, 1]
  std::vector<KvPair> kivi = {{2, 2}, {4, 2}, {4, 4}};  // KIVI uniform baselines
  std::vector<EvalConfig> configs;                    // kvmix per-layer configs (baselines)
  std::vector<BudgetConfig> budget_configs;           // kvmix configs at the budgets
  int64_t batch = 16;                                 // sequences per cache
  uint64_t seed = 0;                                  // recorded
  std::string journal_path;                           // empty: no journal, nothing resumes
  bool progress = true;
  // Polled between runs and before each batch: when set, the study throws kvmix::Interrupted,
  // its finished runs journaled.
  const std::atomic<bool>* stop = nullptr;
};

// Runs (or, from the journal, replays) every (run, task) and returns the study JSON above. The runs
// are shared over the ranks of an MPI job (search/team_work.h); a run's result does not depend on
// the rank that made it.
// Throws kvmix::Error for a budget outside (0, 1] and for a journal that is corrupt or belongs to
// another study.
nlohmann::json run_policy_study(const Model& m, const Tokenizer& tok,
                                const std::vector<PolicyStudyTask>& tasks,
                                const PolicyStudyOptions& opt);

// A "policy_run" work item: one run (its cache spec) on one task; the task's fp16 log-probs are
// made once per rank and kept in `cache`.
nlohmann::json policy_run_work(const Model& m, const Tokenizer& tok, const nlohmann::json& item, WorkCache& cache,
                               const std::atomic<bool>* stop);

}  // namespace kvmix
