#pragma once
// What a rank keeps for the task behind an "eval" or "policy_run" work item (search/team_work.h):
// the task's samples and evaluation settings, built once from the item's context, and the task's
// full-precision log-probabilities, which every other cache on the task is compared with. Both
// kinds of item evaluate one cache on one task; they differ only in how they name the cache.
#include <nlohmann/json.hpp>

#include <atomic>
#include <memory>
#include <string>

#include "search/task_eval.h"
#include "search/team_work.h"

namespace kvmix {

struct TaskWork {
  std::string key;  // the context's key in the WorkCache
  TaskData data;
  EvalOptions eval;  // progress off, no stop: the item's own stop is set per call
};

// The context of a task item: {"data": task_data_to_json(...), "batch": N} and optionally
// "decode_chunk" and "generate" (EvalOptions' defaults otherwise). `kind` keys the cache, `what`
// names the item in errors about its data.
nlohmann::json task_work_context(const TaskData& data, const EvalOptions& eval);
std::shared_ptr<const TaskWork> task_work(WorkCache& cache, const std::string& kind, const nlohmann::json& context,
                                          const std::string& what);

// Keeps the log-probabilities of the task's full-precision pass, run by this rank as an item of
// its own, for the items that follow.
void keep_task_reference(WorkCache& cache, const TaskWork& task, ReferenceLogprobs reference);

// The task's full-precision log-probabilities on this rank: those kept above or, when another rank
// ran the full-precision item (or a journal held its result), the teacher-forced pass alone with a
// cache from `full` (the same numbers for the same model).
std::shared_ptr<const ReferenceLogprobs> task_reference(const Model& m, WorkCache& cache, const TaskWork& task,
                                                        const CacheFactory& full, const std::atomic<bool>* stop);

}  // namespace kvmix
