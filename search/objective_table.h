#pragma once
// The search's objective answered from an exhaustive evaluation (search/exhaustive.h) instead of
// the model: every configuration of the space was evaluated once on the calibration split, and
// the objective is deterministic, so looking a configuration up gives the figures a fresh
// evaluation would (up to the summation order of another thread count, about 1e-6 relative). This
// is how search methods are compared many times over, seeds included, at the cost of one
// enumeration (results/search/README.md). A configuration outside the table is an error.
#include <map>
#include <string>
#include <vector>

#include "search/exhaustive.h"
#include "search/objective.h"

namespace kvmix {

class TableObjective : public Objective {
 public:
  // `source` names the table in errors (its path).
  TableObjective(const Sensitivity& s, const ExhaustiveTable& t, std::string source);
  ObjectiveValue evaluate(const std::vector<size_t>& layer_pairs) const override;
  double bytes_per_token(const std::vector<size_t>& layer_pairs) const override;

 private:
  TrialSpace space_;
  std::map<std::vector<size_t>, ObjectiveValue> values_;
  std::string source_;
};

// Refuses (kvmix::Error naming `source` and the field) a table made under another objective or
// space than the run `identity` describes: model, weights, compute dtype, scheme, pairs,
// calibration tasks and samples, metric and cluster threshold must be equal, and so must the
// clusters.
void check_table_matches(const ExhaustiveTable& t, const nlohmann::json& identity, const Clustering& c,
                         const std::string& source);

}  // namespace kvmix
