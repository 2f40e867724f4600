#pragma once
// A Pareto front of per-layer KV configurations (front.json, schema kvmix.front version 1): the
// non-dominated evaluated points on (true bytes per token, calibration KL), each with its per-layer
// pairs, true and nominal bits; plus every evaluation's running hypervolume, so fronts from
// different methods can be compared per number of full evaluations.
#include <nlohmann/json.hpp>

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

struct Front {
  std::string method;                 // "kvmix" or "kvtuner-nsga2"
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
Front front_from_json(const nlohmann::json& j, const std::string& source);
Front load_front(const std::string& path);
void save_front(const Front& f, const std::string& path);

}  // namespace kvmix
