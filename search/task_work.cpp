#include "search/task_work.h"

namespace kvmix {
namespace {

std::string reference_key(const TaskWork& task) { return task.key + '\0' + "reference"; }

}  // namespace

nlohmann::json task_work_context(const TaskData& data, const EvalOptions& eval) {
  return {{"data", task_data_to_json(data)},
          {"batch", eval.batch},
          {"decode_chunk", eval.decode_chunk},
          {"generate", eval.generate}};
}

std::shared_ptr<const TaskWork> task_work(WorkCache& cache, const std::string& kind, const nlohmann::json& context,
                                          const std::string& what) {
  const std::string key = work_context_key(kind, context);
  return cache.get<TaskWork>(key, [&] {
    TaskWork t;
    t.key = key;
    t.data = task_data_from_json(context.at("data"), what);
    t.eval.batch = context.at("batch").get<int64_t>();
    t.eval.decode_chunk = context.value("decode_chunk", t.eval.decode_chunk);
    t.eval.generate = context.value("generate", t.eval.generate);
    t.eval.progress = false;
    check_eval_options(t.eval);
    return t;
  });
}

void keep_task_reference(WorkCache& cache, const TaskWork& task, ReferenceLogprobs reference) {
  cache.get<ReferenceLogprobs>(reference_key(task), [&] { return std::move(reference); });
}

std::shared_ptr<const ReferenceLogprobs> task_reference(const Model& m, WorkCache& cache, const TaskWork& task,
                                                        const CacheFactory& full, const std::atomic<bool>* stop) {
  return cache.get<ReferenceLogprobs>(reference_key(task), [&] {
    EvalOptions eval = task.eval;
    eval.stop = stop;
    ReferenceLogprobs r;
    r.logprobs = teacher_forced_logprobs(m, task.data, full, eval, nullptr, nullptr);
    return r;
  });
}

}  // namespace kvmix
