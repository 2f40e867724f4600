#pragma once
// The real objective of the search: a per-layer configuration run through the model on the
// calibration split, scored by the mean next-token KL divergence from full precision (teacher
// forced), with its true bytes per token. KL is used rather than exact match because it is
// continuous: a handful of calibration samples rank configurations without the ties and noise of
// a 0/1 score. The full-precision reference is computed once.
#include <vector>

#include "lib/cache/make_kv_cache.h"
#include "lib/tokenizer/tokenizer.h"
#include "models/model.h"
#include "search/sensitivity.h"
#include "search/task_eval.h"

namespace kvmix {

struct ObjectiveOptions {
  std::vector<TaskSpec> tasks;                 // calibration split
  CacheKind cache = CacheKind::kFakeQuant;     // the same numbers as packed, faster to run
  EvalOptions eval;
};

struct ObjectiveValue {
  double kl = 0;               // mean over tasks of the per-token KL
  double bytes_per_token = 0;  // at the sensitivity's reference length
};

// What the search asks of an objective: the calibration KL and true bytes of a per-layer
// configuration (pair index per layer). The model-backed evaluator below is the real one; a table
// of configurations evaluated before (search/objective_table.h) answers the same questions
// without the model, for comparing search methods many times over one exhaustive evaluation.
class Objective {
 public:
  virtual ~Objective() = default;
  virtual ObjectiveValue evaluate(const std::vector<size_t>& layer_pairs) const = 0;
  virtual double bytes_per_token(const std::vector<size_t>& layer_pairs) const = 0;
};

class ObjectiveEvaluator : public Objective {
 public:
  ObjectiveEvaluator(const Model& m, const Tokenizer& tok, const Sensitivity& s, ObjectiveOptions o);
  ObjectiveValue evaluate(const std::vector<size_t>& layer_pairs) const override;
  std::vector<LayerKvFormat> layer_formats(const std::vector<size_t>& layer_pairs) const;
  double bytes_per_token(const std::vector<size_t>& layer_pairs) const override;

 private:
  const Model& m_;
  const Tokenizer& tok_;
  const Sensitivity& s_;
  ObjectiveOptions o_;
  std::vector<TaskData> data_;
  std::vector<ReferenceLogprobs> refs_;
};

}  // namespace kvmix
