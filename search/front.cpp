#include "search/front.h"

#include <cmath>

#include "kvmix_version.h"
#include "lib/json_file.h"
#include "lib/atomic_file.h"
#include "lib/error.h"

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
  return json{{"schema", "kvmix.front"},
              {"version", 1},
              {"producer", std::string("kvmix ") + KVMIX_VERSION},
              {"method", f.method},
              {"model", {{"architecture", s.model.architecture}, {"num_hidden_layers", s.model.layers},
                         {"num_attention_heads", s.model.q_heads},
                         {"num_key_value_heads", s.model.kv_heads}, {"head_dim", s.model.head_dim},
                         {"config_hash", s.model.config_hash}}},
              {"scheme", scheme_name(s.scheme)},
              {"pairs", pairs},
              {"reference_tokens", s.reference_tokens},
              {"kv_dtype_bytes", s.model_dtype_bytes},
              {"objective", "calibration KL (nats/token) vs true bytes per token"},
              {"budget_bytes_per_token", f.budget_bytes_per_token},
              {"complete", f.complete},
              {"evaluations", f.evaluations},
              {"hypervolume_reference", {f.hv_reference.cost, f.hv_reference.error}},
              {"hypervolume", front_hypervolume(f.points, f.hv_reference)},
              {"hypervolume_curve", f.hypervolume_curve},
              {"points", pts}};
}

Front front_from_json(const nlohmann::json& j, const std::string& src) {
  try {
    KVMIX_CHECK(j.is_object() && j.value("schema", "") == "kvmix.front",
                "{}: not a kvmix front file (schema must be \"kvmix.front\")", src);
    KVMIX_CHECK(j.value("version", 0) == 1, "{}: front version {} is not supported (1 is)", src,
                j.value("version", 0));
    Front f;
    f.method = j.at("method").get<std::string>();
    Sensitivity& s = f.sensitivity;
    const auto& m = j.at("model");
    s.model.architecture = m.at("architecture").get<std::string>();
    s.model.layers = m.at("num_hidden_layers").get<int64_t>();
    s.model.q_heads = m.at("num_attention_heads").get<int64_t>();
    s.model.kv_heads = m.at("num_key_value_heads").get<int64_t>();
    s.model.head_dim = m.at("head_dim").get<int64_t>();
    s.model.config_hash = m.value("config_hash", "");
    s.scheme = parse_scheme(j.at("scheme").get<std::string>());
    for (const auto& p : j.at("pairs")) s.pairs.push_back(parse_pair(p.get<std::string>()));
    s.reference_tokens = j.at("reference_tokens").get<int64_t>();
    s.model_dtype_bytes = j.at("kv_dtype_bytes").get<int>();
    f.budget_bytes_per_token = j.at("budget_bytes_per_token").get<double>();
    f.complete = j.at("complete").get<bool>();
    f.evaluations = j.at("evaluations").get<int64_t>();
    const auto ref = j.at("hypervolume_reference");
    f.hv_reference = {ref.at(0).get<double>(), ref.at(1).get<double>()};
    f.hypervolume_curve = j.at("hypervolume_curve").get<std::vector<double>>();
    for (const auto& p : j.at("points")) {
      FrontPoint x;
      x.bytes_per_token = p.at("bytes_per_token").get<double>();
      x.true_bits = p.at("true_bits").get<double>();
      x.nominal_bits = p.at("nominal_bits").get<double>();
      x.kl = p.at("kl").get<double>();
      x.origin = p.value("origin", "");
      x.trial = p.value("trial", int64_t{-1});
      KVMIX_CHECK(std::isfinite(x.bytes_per_token) && std::isfinite(x.kl) && x.bytes_per_token >= 0 && x.kl >= 0,
                  "{}: a point has a negative or non-finite value", src);
      const auto& layers = p.at("layers");
      KVMIX_CHECK(static_cast<int64_t>(layers.size()) == s.model.layers,
                  "{}: a point has {} layers for a {}-layer model", src, layers.size(), s.model.layers);
      for (const auto& l : layers) {
        const KvPair pair = parse_pair(l.at("pair").get<std::string>());
        size_t idx = s.pairs.size();
        for (size_t i = 0; i < s.pairs.size(); ++i)
          if (s.pairs[i] == pair) idx = i;
        KVMIX_CHECK(idx < s.pairs.size(), "{}: pair {} is not among the front's pairs", src, pair_name(pair));
        x.layer_pairs.push_back(idx);
      }
      f.points.push_back(x);
    }
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
  write_file_atomic(path, front_to_json(f).dump(2) + "\n");
}

}  // namespace kvmix
