#include "search/sensitivity.h"

#include <cmath>

#include "kvmix_version.h"
#include "lib/json_file.h"
#include "lib/atomic_file.h"
#include "lib/error.h"

namespace kvmix {

ErrorMetric parse_error_metric(const std::string& s) {
  if (s == "out" || s == "out_rel_err") return ErrorMetric::kOutRelErr;
  if (s == "kl") return ErrorMetric::kKl;
  if (s == "attn" || s == "attn_tv") return ErrorMetric::kAttnTv;
  if (s == "k" || s == "k_rel_err") return ErrorMetric::kKRelErr;
  if (s == "v" || s == "v_rel_err") return ErrorMetric::kVRelErr;
  throw UsageError("unknown error metric '" + s + "' (expected out, kl, attn, k or v)");
}

const char* error_metric_name(ErrorMetric m) {
  switch (m) {
    case ErrorMetric::kOutRelErr: return "out_rel_err";
    case ErrorMetric::kKl: return "kl";
    case ErrorMetric::kAttnTv: return "attn_tv";
    case ErrorMetric::kKRelErr: return "k_rel_err";
    case ErrorMetric::kVRelErr: return "v_rel_err";
  }
  return "?";
}

double cell_error(const CellStats& c, ErrorMetric m) {
  switch (m) {
    case ErrorMetric::kOutRelErr: return c.out_rel_err;
    case ErrorMetric::kKl: return c.kl;
    case ErrorMetric::kAttnTv: return c.attn_tv;
    case ErrorMetric::kKRelErr: return c.k_rel_err;
    case ErrorMetric::kVRelErr: return c.v_rel_err;
  }
  return 0;
}

LayerKvFormat pair_formats(const Sensitivity& s, size_t p) {
  return {key_format(s.scheme, s.pairs.at(p).k_bits), value_format(s.scheme, s.pairs.at(p).v_bits)};
}

nlohmann::json sensitivity_to_json(const Sensitivity& s) {
  using nlohmann::json;
  json pairs = json::array(), layers = json::array();
  for (size_t p = 0; p < s.pairs.size(); ++p) {
    const auto f = pair_formats(s, p);
    pairs.push_back({{"name", pair_name(s.pairs[p])}, {"k", format_name(f.k)}, {"v", format_name(f.v)}});
  }
  for (size_t l = 0; l < s.cells.size(); ++l) {
    json cells = json::array();
    for (size_t p = 0; p < s.cells[l].size(); ++p) {
      const auto& c = s.cells[l][p];
      cells.push_back({{"pair", pair_name(s.pairs[p])},
                       {"k_rel_err", c.k_rel_err}, {"k_rel_err_std", c.k_rel_err_std},
                       {"v_rel_err", c.v_rel_err}, {"v_rel_err_std", c.v_rel_err_std},
                       {"attn_tv", c.attn_tv}, {"attn_tv_std", c.attn_tv_std},
                       {"out_rel_err", c.out_rel_err}, {"out_rel_err_std", c.out_rel_err_std},
                       {"kl", c.kl}, {"kl_std", c.kl_std}, {"kl_p90", c.kl_p90},
                       {"bytes_per_token", c.bytes_per_token}});
    }
    layers.push_back({{"layer", l}, {"cells", cells}});
  }
  return json{{"schema", "kvmix.sensitivity"},
              {"version", 1},
              {"producer", std::string("kvmix ") + KVMIX_VERSION},
              {"model", {{"architecture", s.model.architecture}, {"num_hidden_layers", s.model.layers},
                         {"num_attention_heads", s.model.q_heads},
                         {"num_key_value_heads", s.model.kv_heads}, {"head_dim", s.model.head_dim},
                         {"config_hash", s.model.config_hash}}},
              {"scheme", scheme_name(s.scheme)},
              {"pairs", pairs},
              {"calibration", {{"tasks", s.tasks}, {"split", "calib"}, {"samples_per_task", s.samples},
                               {"continuation_tokens", s.continuation_tokens}}},
              {"reference_tokens", s.reference_tokens},
              {"kv_dtype_bytes", s.model_dtype_bytes},
              {"full_precision_bytes_per_token", s.full_precision_bytes_per_token},
              {"layers", layers}};
}

Sensitivity sensitivity_from_json(const nlohmann::json& j, const std::string& src) {
  try {
    KVMIX_CHECK(j.is_object() && j.value("schema", "") == "kvmix.sensitivity",
                "{}: not a kvmix sensitivity file (schema must be \"kvmix.sensitivity\")", src);
    KVMIX_CHECK(j.value("version", 0) == 1, "{}: sensitivity version {} is not supported (1 is)", src,
                j.value("version", 0));
    Sensitivity s;
    const auto& m = j.at("model");
    s.model.architecture = m.at("architecture").get<std::string>();
    s.model.layers = m.at("num_hidden_layers").get<int64_t>();
    s.model.q_heads = m.at("num_attention_heads").get<int64_t>();
    s.model.kv_heads = m.at("num_key_value_heads").get<int64_t>();
    s.model.head_dim = m.at("head_dim").get<int64_t>();
    s.model.config_hash = m.value("config_hash", "");
    s.scheme = parse_scheme(j.at("scheme").get<std::string>());
    for (const auto& p : j.at("pairs")) s.pairs.push_back(parse_pair(p.at("name").get<std::string>()));
    KVMIX_CHECK(!s.pairs.empty(), "{}: no pairs", src);
    const auto& cal = j.at("calibration");
    s.tasks = cal.at("tasks").get<std::vector<std::string>>();
    s.samples = cal.at("samples_per_task").get<int64_t>();
    s.continuation_tokens = cal.at("continuation_tokens").get<int64_t>();
    s.reference_tokens = j.at("reference_tokens").get<int64_t>();
    s.model_dtype_bytes = j.at("kv_dtype_bytes").get<int>();
    s.full_precision_bytes_per_token = j.at("full_precision_bytes_per_token").get<double>();
    const auto& layers = j.at("layers");
    KVMIX_CHECK(static_cast<int64_t>(layers.size()) == s.model.layers,
                "{}: {} layer entries for {} layers", src, layers.size(), s.model.layers);
    for (size_t l = 0; l < layers.size(); ++l) {
      const auto& cells = layers[l].at("cells");
      KVMIX_CHECK(layers[l].at("layer").get<size_t>() == l, "{}: layers out of order at {}", src, l);
      KVMIX_CHECK(cells.size() == s.pairs.size(), "{}: layer {} has {} cells for {} pairs", src, l,
                  cells.size(), s.pairs.size());
      std::vector<CellStats> row;
      for (size_t p = 0; p < cells.size(); ++p) {
        const auto& c = cells[p];
        KVMIX_CHECK(parse_pair(c.at("pair").get<std::string>()) == s.pairs[p],
                    "{}: layer {} cell {} is not pair {}", src, l, p, pair_name(s.pairs[p]));
        CellStats x;
        x.k_rel_err = c.at("k_rel_err").get<double>();
        x.k_rel_err_std = c.at("k_rel_err_std").get<double>();
        x.v_rel_err = c.at("v_rel_err").get<double>();
        x.v_rel_err_std = c.at("v_rel_err_std").get<double>();
        x.attn_tv = c.at("attn_tv").get<double>();
        x.attn_tv_std = c.at("attn_tv_std").get<double>();
        x.out_rel_err = c.at("out_rel_err").get<double>();
        x.out_rel_err_std = c.at("out_rel_err_std").get<double>();
        x.kl = c.at("kl").get<double>();
        x.kl_std = c.at("kl_std").get<double>();
        x.kl_p90 = c.at("kl_p90").get<double>();
        x.bytes_per_token = c.at("bytes_per_token").get<double>();
        for (double v : {x.k_rel_err, x.v_rel_err, x.attn_tv, x.out_rel_err, x.kl, x.bytes_per_token})
          KVMIX_CHECK(std::isfinite(v) && v >= 0, "{}: layer {} pair {}: a value is negative or not finite",
                      src, l, pair_name(s.pairs[p]));
        row.push_back(x);
      }
      s.cells.push_back(row);
    }
    return s;
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: malformed sensitivity file: {}", src, e.what()));
  } catch (const UsageError& e) {
    throw Error(fmt::format("{}: {}", src, e.what()));
  }
}

Sensitivity load_sensitivity(const std::string& path) {
  return sensitivity_from_json(read_json_file(path), path);
}

void save_sensitivity(const Sensitivity& s, const std::string& path) {
  write_file_atomic(path, sensitivity_to_json(s).dump(2) + "\n");
}

}  // namespace kvmix
