#pragma once
// A Pareto front of per-layer KV configurations (front.json, schema kvmix.front version 1; JSON
// Schema search/front.schema.json, validated on read): the non-dominated evaluated points on
// (true bytes per token, calibration KL), each with its per-layer pairs, true and nominal bits;
// every evaluation's running hypervolume, so fronts from different methods can be compared per
// number of full evaluations; and the method, seed, population and generations that found it, so
// it can be reproduced.
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "search/journal.h"
#include "search/pareto.h"
#include "search/sensitivity.h"

namespace kvmix {

struct FrontPoint {
  std::vector<size_t> layer_pairs;
  double bytes_per_token = 0;
  double true_bits = 0;     // per K/V element, at reference_tokens
  double nominal_bits = 0;  // KVTuner's mean (k + v)/2
  double kl = 0;
  std::string origin;
  int64_t trial = -1;
};

// What a search was run with, besides its method and budget: with them and the same profile, the
// same calibration data and options, it walks the same path (search/front_search.h).
struct FrontSearchSettings {
  uint64_t seed = 0;
  int64_t population = 0;
  int64_t generations = 0;
};

// Bound on a front's evaluations: population x (1 + generations) at the options' largest, 4096 and
// 100000 (search/tune_stages.h check_search_stage_options).
inline constexpr int64_t kMaxFrontEvaluations = int64_t{4096} * (1 + 100000);

struct Front {
  // The label front.json records, search_method_name (search/search_method.h): "kvmix" or
  // "kvtuner-nsga2"; checked on reading. Plots and tables print it.
  std::string method;
  std::optional<FrontSearchSettings> search;  // absent in fronts written before it was recorded
  Sensitivity sensitivity;            // shape, scheme, pairs (cells not written back)
  std::vector<FrontPoint> points;     // non-dominated, by bytes ascending
  int64_t evaluations = 0;            // full evaluations the method spent
  std::vector<double> hypervolume_curve;  // after each evaluation
  Point2 hv_reference;                // (bytes per token of full precision, reference KL)
  double budget_bytes_per_token = 0;  // 0: none
  bool complete = true;               // false when interrupted
};

FrontPoint make_front_point(const Sensitivity& s, const Trial& t);
// The non-dominated points of the trials within the budget.
std::vector<FrontPoint> front_of(const Sensitivity& s, const std::vector<Trial>& trials, double budget);
double front_hypervolume(const std::vector<FrontPoint>& pts, const Point2& ref);

nlohmann::json front_to_json(const Front& f);
// Validates against the schema, then the meaning, naming `source` and the field: the shape, scheme
// and pairs as sensitivity.json's (search/sensitivity.h sensitivity_head_from_json); a known
// method; every number finite and in range; each point's bytes, true bits and nominal bits
// recomputed from its pairs and refused when they disagree; points within the budget, below the
// hypervolume reference (whose bytes are the model's full precision), sorted and non-dominated;
// one hypervolume per evaluation, never falling, ending at the front's.
Front front_from_json(const nlohmann::json& j, const std::string& source);
Front load_front(const std::string& path);
void save_front(const Front& f, const std::string& path);  // atomic, validated

}  // namespace kvmix
