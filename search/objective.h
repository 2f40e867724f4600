#pragma once
// The real objective of the search: a per-layer configuration run through the model on the
// calibration split, scored by the mean next-token KL divergence from full precision (teacher
// forced), with its true bytes per token. KL is used rather than exact match because it is
// continuous: a handful of calibration samples rank configurations without the ties and noise of
// a 0/1 score. The full-precision reference is computed once.
#include <nlohmann/json.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "lib/cache/make_kv_cache.h"
#include "lib/tokenizer/tokenizer.h"
#include "models/model.h"
#include "search/sensitivity.h"
#include "search/task_eval.h"
#include "search/team_work.h"

namespace kvmix {

struct ObjectiveOptions {
  std::vector<TaskSpec> tasks;                 // calibration split
  CacheKind cache = CacheKind::kFakeQuant;     // the same numbers as packed, faster to run
  EvalOptions eval;
};

struct ObjectiveValue {
  double kl = 0;               // mean over tasks of the per-token KL
  double bytes_per_token = 0;  // at the sensitivity's reference length
  double seconds = 0;          // wall time of the evaluation, on the rank that made it
};

// Called as each configuration of a batch is evaluated: its index in the batch and its value.
using ObjectiveDone = std::function<void(size_t index, const ObjectiveValue& value)>;

// What the search asks of an objective: the calibration KL and true bytes of a per-layer
// configuration (pair index per layer). The model-backed evaluator below is the real one; a table
// of configurations evaluated before (search/objective_table.h) answers the same questions
// without the model, for comparing search methods many times over one exhaustive evaluation.
class Objective {
 public:
  virtual ~Objective() = default;
  virtual ObjectiveValue evaluate(const std::vector<size_t>& layer_pairs) const = 0;
  virtual double bytes_per_token(const std::vector<size_t>& layer_pairs) const = 0;
  // Several configurations at once, results in order; those not evaluated because `stop` was set
  // are empty. `on_done` (may be empty) sees each value as it is made, in any order: a caller
  // journals it at once, so a job killed mid-batch keeps what finished. The model-backed
  // objective shares a batch over the ranks of an MPI job; the default evaluates one after
  // another.
  virtual std::vector<std::optional<ObjectiveValue>> evaluate_batch(const std::vector<std::vector<size_t>>& configs,
                                                                    const std::atomic<bool>* stop,
                                                                    const ObjectiveDone& on_done = {}) const;
};

// The model-dependent half of the objective: calibration samples (token ids) and their
// full-precision log-probabilities, computed once, then the mean KL of any per-layer formats.
// Built from a context (samples, cache kind, batch and decode chunk) that an "objective" work item
// carries to other ranks.
class CalibrationKl {
 public:
  CalibrationKl(const Model& m, const Tokenizer& tok, const nlohmann::json& context);
  double kl(const std::vector<LayerKvFormat>& formats) const;

 private:
  const Model& m_;
  const Tokenizer& tok_;
  CacheKind cache_;
  EvalOptions eval_;
  std::vector<TaskData> data_;
  std::vector<ReferenceLogprobs> refs_;
};

// An "objective" work item: the calibration KL of one configuration's formats.
nlohmann::json objective_work(const Model& m, const Tokenizer& tok, const nlohmann::json& item, WorkCache& cache);

class ObjectiveEvaluator : public Objective {
 public:
  ObjectiveEvaluator(const Model& m, const Tokenizer& tok, const Sensitivity& s, ObjectiveOptions o);
  ObjectiveValue evaluate(const std::vector<size_t>& layer_pairs) const override;
  std::vector<std::optional<ObjectiveValue>> evaluate_batch(const std::vector<std::vector<size_t>>& configs,
                                                            const std::atomic<bool>* stop,
                                                            const ObjectiveDone& on_done = {}) const override;
  std::vector<LayerKvFormat> layer_formats(const std::vector<size_t>& layer_pairs) const;
  double bytes_per_token(const std::vector<size_t>& layer_pairs) const override;

 private:
  const Model& m_;
  const Tokenizer& tok_;
  const Sensitivity& s_;
  nlohmann::json context_;
  mutable WorkCache cache_;
  std::shared_ptr<const CalibrationKl> kl_;
};

}  // namespace kvmix
