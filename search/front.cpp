#include "search/front.h"

#include <cmath>
#include <tuple>

#include "base/error.h"
#include "kvmix_schemas.h"
#include "kvmix_version.h"
#include "lib/io/atomic_file.h"
#include "lib/io/json_describe.h"
#include "lib/io/json_file.h"
#include "lib/io/json_number.h"
#include "lib/io/json_schema.h"
#include "search/search_method.h"

namespace kvmix {

FrontPoint make_front_point(const Sensitivity& s, const Trial& t) {
  FrontPoint p;
  p.layer_pairs = t.layer_pairs;
  p.bytes_per_token = t.bytes_per_token;
  p.kl = t.kl;
  p.origin = t.origin;
  p.trial = t.id;
  const double elems = 2.0 * static_cast<double>(s.model.layers * s.model.kv_heads * s.model.head_dim);
  p.true_bits = 8.0 * t.bytes_per_token / elems;
  double nb = 0;
  for (size_t pi : t.layer_pairs) {
    const auto f = pair_formats(s, pi);
    nb += 0.5 * (nominal_bits(f.k) + nominal_bits(f.v));
  }
  p.nominal_bits = nb / static_cast<double>(std::max<size_t>(1, t.layer_pairs.size()));
  return p;
}

std::vector<FrontPoint> front_of(const Sensitivity& s, const std::vector<Trial>& trials, double budget) {
  std::vector<const Trial*> in;
  std::vector<Point2> xy;
  for (const auto& t : trials)
    if (budget <= 0 || t.bytes_per_token <= budget) {
      in.push_back(&t);
      xy.push_back({t.bytes_per_token, t.kl});
    }
  std::vector<FrontPoint> out;
  for (size_t i : pareto_indices(xy)) out.push_back(make_front_point(s, *in[i]));
  return out;
}

double front_hypervolume(const std::vector<FrontPoint>& pts, const Point2& ref) {
  std::vector<Point2> xy;
  for (const auto& p : pts) xy.push_back({p.bytes_per_token, p.kl});
  return hypervolume_2d(xy, ref);
}

nlohmann::json front_to_json(const Front& f) {
  using nlohmann::json;
  const Sensitivity& s = f.sensitivity;
  json pairs = json::array(), pts = json::array();
  for (const auto& p : s.pairs) pairs.push_back(pair_name(p));
  for (const auto& p : f.points) {
    json layers = json::array();
    for (size_t l = 0; l < p.layer_pairs.size(); ++l) {
      const auto fm = pair_formats(s, p.layer_pairs[l]);
      layers.push_back({{"layer", l}, {"pair", pair_name(s.pairs.at(p.layer_pairs[l]))},
                        {"k", format_name(fm.k)}, {"v", format_name(fm.v)}});
    }
    pts.push_back({{"bytes_per_token", p.bytes_per_token}, {"true_bits", p.true_bits},
                   {"nominal_bits", p.nominal_bits}, {"kl", p.kl}, {"origin", p.origin},
                   {"trial", p.trial}, {"layers", layers}});
  }
  json j = {{"schema", "kvmix.front"},
            {"version", 1},
            {"producer", std::string("kvmix ") + KVMIX_VERSION},
            {"method", f.method},
            {"scheme", scheme_name(s.scheme)},
            {"pairs", pairs},
            {"reference_tokens", s.reference_tokens},
            {"objective", "calibration KL (nats/token) vs true bytes per token"},
            {"budget_bytes_per_token", f.budget_bytes_per_token},
            {"complete", f.complete},
            {"evaluations", f.evaluations},
            {"hypervolume_reference", {f.hv_reference.cost, f.hv_reference.error}},
            {"hypervolume", front_hypervolume(f.points, f.hv_reference)},
            {"hypervolume_curve", f.hypervolume_curve},
            {"points", pts}};
  if (f.search) {
    j["seed"] = f.search->seed;
    j["population"] = f.search->population;
    j["generations"] = f.search->generations;
  }
  kv_shape_to_json(s.model, j);
  return j;
}

namespace {

// The hypervolume reference's KL may be any positive figure up to this (kvmix writes 1 nat per
// token): larger ones only blow the areas up toward infinity.
constexpr double kMaxReferenceKl = 1000.0;

FrontPoint read_point(const nlohmann::json& p, const Sensitivity& s, const std::string& where) {
  FrontPoint x;
  const auto& layers = p.at("layers");
  KVMIX_CHECK(static_cast<int64_t>(layers.size()) == s.model.layers,
              "{}: {} layers for a {}-layer model", where, layers.size(), s.model.layers);
  for (size_t l = 0; l < layers.size(); ++l) {
    const auto& e = layers[l];
    const std::string field = fmt::format("layers[{}]", l);
    auto at = [&](const char* key) { return fmt::format("{}: field '{}.{}'", where, field, key); };
    const int64_t index = json_integer(e.at("layer"), 0, kMaxKvLayers, at("layer"));
    KVMIX_CHECK(index == static_cast<int64_t>(l), "{} is not {}: layers out of order", at("layer"),
                l);
    KvPair pair;
    try {
      pair = parse_pair(json_string(e.at("pair"), at("pair")));
    } catch (const UsageError& err) {
      throw Error(fmt::format("{}: {}", at("pair"), err.what()));
    }
    size_t idx = s.pairs.size();
    for (size_t i = 0; i < s.pairs.size(); ++i)
      if (s.pairs[i] == pair) idx = i;
    KVMIX_CHECK(idx < s.pairs.size(), "{}: pair {} is not among the front's pairs", at("pair"),
                pair_name(pair));
    if (e.contains("k") || e.contains("v"))
      check_pair_format_names(s, idx, e.at("k"), e.at("v"), where, field);
    x.layer_pairs.push_back(idx);
  }
  auto number = [&](const char* key) {
    return json_number(p.at(key), 0, HUGE_VAL, fmt::format("{}: field '{}'", where, key));
  };
  x.kl = number("kl");
  x.origin = p.contains("origin") ? json_string(p["origin"], where + ": field 'origin'") : "";
  x.trial = p.contains("trial") ? json_integer(p["trial"], -1, kMaxFrontEvaluations,
                                               where + ": field 'trial'")
                                : -1;
  // Bytes and bits are functions of the pairs and the shape: recomputed, never trusted.
  Trial t;
  t.layer_pairs = x.layer_pairs;
  t.bytes_per_token = 0;
  for (size_t pi : x.layer_pairs) t.bytes_per_token += pair_bytes_per_token(s, pi);
  t.kl = x.kl;
  t.origin = x.origin;
  t.id = x.trial;
  const FrontPoint expected = make_front_point(s, t);
  for (const auto& [key, stored, want] :
       {std::tuple{"bytes_per_token", number("bytes_per_token"), expected.bytes_per_token},
        std::tuple{"true_bits", number("true_bits"), expected.true_bits},
        std::tuple{"nominal_bits", number("nominal_bits"), expected.nominal_bits}})
    KVMIX_CHECK(same_up_to_rounding(stored, want),
                "{}: field '{}' is {}, but its per-layer pairs give {}", where, key, stored, want);
  return expected;
}

}  // namespace

Front front_from_json(const nlohmann::json& j, const std::string& src) {
  try {
    KVMIX_CHECK(j.is_object() && j.contains("schema") && j["schema"] == "kvmix.front",
                "{}: not a kvmix front file (schema must be \"kvmix.front\")", src);
    KVMIX_CHECK(j.contains("version") && j["version"] == 1,
                "{}: front version {} is not supported (1 is)", src,
                describe_json(j.value("version", nlohmann::json())));
    validate_against_schema(j, kFrontSchemaJson, src);
    Front f;
    // A label, printed and plotted as data: fronts from other optimizers carry their own names.
    f.method = json_string(j.at("method"), src + ": field 'method'");
    if (j.contains("seed") || j.contains("population") || j.contains("generations")) {
      KVMIX_CHECK(j.contains("seed") && j.contains("population") && j.contains("generations"),
                  "{}: fields 'seed', 'population' and 'generations' go together", src);
      FrontSearchSettings st;
      st.seed = json_unsigned(j["seed"], src + ": field 'seed'");
      st.population = json_integer(j["population"], 8, 4096, src + ": field 'population'");
      st.generations = json_integer(j["generations"], 0, 100000, src + ": field 'generations'");
      f.search = st;
    }
    f.sensitivity = sensitivity_head_from_json(j, j.at("pairs"), "pairs", src);
    const Sensitivity& s = f.sensitivity;
    const double fp_bytes = s.full_precision_bytes_per_token * static_cast<double>(s.model.layers);

    f.budget_bytes_per_token = json_number(j.at("budget_bytes_per_token"), 0, HUGE_VAL,
                                           src + ": field 'budget_bytes_per_token'");
    f.complete = j.at("complete").get<bool>();
    f.evaluations = json_integer(j.at("evaluations"), 0, kMaxFrontEvaluations,
                                 src + ": field 'evaluations'");
    if (f.search) {
      const int64_t most = f.search->population * (1 + f.search->generations);
      KVMIX_CHECK(f.evaluations <= most,
                  "{}: field 'evaluations' is {}, more than population x (1 + generations) = {}",
                  src, f.evaluations, most);
    }
    // The reference box: bytes up to the model's full precision (what a search writes), KL up to a
    // bound, so every area stays finite and fronts of one model compare against one box.
    const auto& ref = j.at("hypervolume_reference");
    const double ref_bytes =
        json_number(ref.at(0), 0, HUGE_VAL, src + ": field 'hypervolume_reference[0]'");
    KVMIX_CHECK(same_up_to_rounding(ref_bytes, fp_bytes),
                "{}: field 'hypervolume_reference[0]' is {} bytes per token, but this model's full "
                "precision is {}",
                src, ref_bytes, fp_bytes);
    f.hv_reference = {fp_bytes, json_number(ref.at(1), 0, kMaxReferenceKl,
                                            src + ": field 'hypervolume_reference[1]'")};
    KVMIX_CHECK(f.hv_reference.error > 0, "{}: field 'hypervolume_reference[1]' must be above 0",
                src);
    const double max_area = f.hv_reference.cost * f.hv_reference.error;

    const auto& points = j.at("points");
    KVMIX_CHECK(static_cast<int64_t>(points.size()) <= f.evaluations,
                "{}: {} points from {} evaluations", src, points.size(), f.evaluations);
    for (size_t i = 0; i < points.size(); ++i) {
      const std::string where = fmt::format("{}: point {}", src, i);
      FrontPoint x = read_point(points[i], s, where);
      KVMIX_CHECK(x.bytes_per_token <= fp_bytes,
                  "{}: {} bytes per token, above the hypervolume reference's {}", where,
                  x.bytes_per_token, fp_bytes);
      KVMIX_CHECK(f.budget_bytes_per_token <= 0 || x.bytes_per_token <= f.budget_bytes_per_token,
                  "{}: {} bytes per token, above the budget of {}", where, x.bytes_per_token,
                  f.budget_bytes_per_token);
      if (!f.points.empty()) {
        const FrontPoint& prev = f.points.back();
        KVMIX_CHECK(x.bytes_per_token > prev.bytes_per_token && x.kl < prev.kl,
                    "{}: not on the front: points are sorted by bytes, each with a lower KL than "
                    "the one before (point {}: {} bytes, KL {}; this one: {} bytes, KL {})",
                    where, i - 1, prev.bytes_per_token, prev.kl, x.bytes_per_token, x.kl);
      }
      f.points.push_back(std::move(x));
    }

    const double hv = front_hypervolume(f.points, f.hv_reference);
    const double stored_hv =
        json_number(j.at("hypervolume"), 0, max_area, src + ": field 'hypervolume'");
    KVMIX_CHECK(same_up_to_rounding(stored_hv, hv),
                "{}: field 'hypervolume' is {}, but its points give {}", src, stored_hv, hv);
    const auto& curve = j.at("hypervolume_curve");
    KVMIX_CHECK(static_cast<int64_t>(curve.size()) == f.evaluations,
                "{}: field 'hypervolume_curve' has {} values for {} evaluations (one after each)",
                src, curve.size(), f.evaluations);
    for (size_t i = 0; i < curve.size(); ++i) {
      const double v = json_number(curve[i], 0, max_area,
                                   fmt::format("{}: field 'hypervolume_curve[{}]'", src, i));
      // Each evaluation adds a point, and a point never shrinks the area its front dominates.
      KVMIX_CHECK(f.hypervolume_curve.empty() || v >= f.hypervolume_curve.back() ||
                      same_up_to_rounding(v, f.hypervolume_curve.back()),
                  "{}: field 'hypervolume_curve[{}]' falls from {} to {}", src, i,
                  f.hypervolume_curve.back(), v);
      f.hypervolume_curve.push_back(v);
    }
    KVMIX_CHECK(f.hypervolume_curve.empty() || same_up_to_rounding(f.hypervolume_curve.back(), hv),
                "{}: field 'hypervolume_curve' ends at {}, but the front's hypervolume is {}", src,
                f.hypervolume_curve.empty() ? 0.0 : f.hypervolume_curve.back(), hv);
    return f;
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: malformed front file: {}", src, e.what()));
  } catch (const UsageError& e) {
    throw Error(fmt::format("{}: {}", src, e.what()));
  }
}

Front load_front(const std::string& path) {
  return front_from_json(read_json_file(path), path);
}

void save_front(const Front& f, const std::string& path) {
  const auto j = front_to_json(f);
  validate_against_schema(j, kFrontSchemaJson, path + " (being written)");
  write_file_atomic(path, j.dump(2) + "\n");
}

}  // namespace kvmix
