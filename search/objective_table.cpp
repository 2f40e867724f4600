#include "search/objective_table.h"

#include "base/error.h"

namespace kvmix {

TableObjective::TableObjective(const Sensitivity& s, const ExhaustiveTable& t, std::string source)
    : space_(trial_space(s)), source_(std::move(source)) {
  for (const Trial& tr : t.trials) values_[tr.layer_pairs] = ObjectiveValue{tr.kl, tr.bytes_per_token};
}

double TableObjective::bytes_per_token(const std::vector<size_t>& lp) const {
  KVMIX_CHECK(lp.size() == space_.layer_pair_bytes.size(), "objective: {} choices for {} layers", lp.size(),
              space_.layer_pair_bytes.size());
  double b = 0;
  for (size_t l = 0; l < lp.size(); ++l) b += space_.layer_pair_bytes[l].at(lp[l]);
  return b;
}

ObjectiveValue TableObjective::evaluate(const std::vector<size_t>& lp) const {
  const auto it = values_.find(lp);
  KVMIX_CHECK(it != values_.end(), "{}: holds no evaluation of the configuration asked for (a search "
              "over another space, or an incomplete table)", source_);
  return it->second;
}

void check_table_matches(const ExhaustiveTable& t, const nlohmann::json& identity, const Clustering& c,
                         const std::string& source) {
  for (const char* key : {"model", "weights", "dtype", "scheme", "pairs", "calib_tasks", "calib_samples", "metric",
                          "cluster_threshold"}) {
    const nlohmann::json mine = identity.contains(key) ? identity[key] : nlohmann::json();
    const nlohmann::json theirs = t.run.contains(key) ? t.run[key] : nlohmann::json();
    KVMIX_CHECK(mine == theirs, "{}: made with {} {}, but this run has {}", source, key, theirs.dump(),
                mine.dump());
  }
  KVMIX_CHECK(t.clusters.layers == c.layers && t.clusters.candidates == c.candidates,
              "{}: its clusters differ from this run's ({} clusters against {})", source, t.clusters.layers.size(),
              c.layers.size());
}

}  // namespace kvmix
