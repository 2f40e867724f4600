#include "search/sensitivity.h"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "base/error.h"
#include "kernels/ops.h"  // true_bytes
#include "kvmix_schemas.h"
#include "kvmix_version.h"
#include "lib/io/atomic_file.h"
#include "lib/io/json_describe.h"
#include "lib/io/json_file.h"
#include "lib/io/json_number.h"
#include "lib/io/json_schema.h"

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

namespace {

double layer_bytes(const Sensitivity& s, const LayerKvFormat& f) {
  const KvShape& m = s.model;
  const int64_t t = s.reference_tokens;
  const int64_t b = true_bytes(m.kv_heads, t, m.head_dim, f.k, m.model_dtype_bytes) +
                    true_bytes(m.kv_heads, t, m.head_dim, f.v, m.model_dtype_bytes);
  return static_cast<double>(b) / static_cast<double>(s.reference_tokens);
}

}  // namespace

double pair_bytes_per_token(const Sensitivity& s, size_t p) {
  return layer_bytes(s, pair_formats(s, p));
}

double full_precision_layer_bytes_per_token(const Sensitivity& s) {
  return layer_bytes(s, {full_precision(), full_precision()});
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
  json j = {{"schema", "kvmix.sensitivity"},
            {"version", 1},
            {"producer", std::string("kvmix ") + KVMIX_VERSION},
            {"scheme", scheme_name(s.scheme)},
            {"pairs", pairs},
            {"calibration", {{"tasks", s.tasks}, {"split", "calib"}, {"samples_per_task", s.samples},
                             {"continuation_tokens", s.continuation_tokens}}},
            {"reference_tokens", s.reference_tokens},
            {"full_precision_bytes_per_token", s.full_precision_bytes_per_token},
            {"layers", layers}};
  kv_shape_to_json(s.model, j);
  return j;
}

namespace {

// "pairs[].name", 3 -> "pairs[3].name"; "pairs", 3 -> "pairs[3]".
std::string field_index(const std::string& field, size_t i) {
  const size_t at = field.find("[]");
  if (at == std::string::npos) return fmt::format("{}[{}]", field, i);
  return fmt::format("{}[{}]{}", field.substr(0, at), i, field.substr(at + 2));
}

std::vector<KvPair> read_pairs(const nlohmann::json& names, const std::string& field,
                               const std::string& src) {
  std::vector<KvPair> pairs;
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string where = fmt::format("{}: field '{}'", src, field_index(field, i));
    const std::string name = json_string(names[i], where);
    KvPair p;
    try {
      p = parse_pair(name);
    } catch (const UsageError& e) {
      throw Error(fmt::format("{}: {}", where, e.what()));
    }
    for (size_t q = 0; q < pairs.size(); ++q)
      KVMIX_CHECK(pairs[q] != p, "{} is pair {} again (as is {})", where, pair_name(p),
                  field_index(field, q));
    pairs.push_back(p);
  }
  return pairs;
}

}  // namespace

void check_pair_format_names(const Sensitivity& s, size_t p, const nlohmann::json& k,
                             const nlohmann::json& v, const std::string& source,
                             const std::string& field) {
  const LayerKvFormat f = pair_formats(s, p);
  for (const auto& [side, stored, expected] :
       {std::tuple{"k", &k, format_name(f.k)}, std::tuple{"v", &v, format_name(f.v)}}) {
    const std::string where = fmt::format("{}: field '{}.{}'", source, field, side);
    const std::string name = json_string(*stored, where);
    KVMIX_CHECK(name == expected,
                "{} is format {}, but pair {} under the {} scheme is stored as {}", where,
                describe_json(name), pair_name(s.pairs[p]), scheme_name(s.scheme), expected);
  }
}

Sensitivity sensitivity_head_from_json(const nlohmann::json& j, const nlohmann::json& pair_names,
                                       const std::string& pairs_field, const std::string& src) {
  try {
    Sensitivity s;
    s.model = kv_shape_from_json(j, src);
    s.scheme = parse_scheme(json_string(j.at("scheme"), src + ": field 'scheme'"));
    try {
      check_scheme_fits(s.scheme, s.model.head_dim);
    } catch (const Error& e) {
      throw Error(fmt::format("{}: field 'scheme': {}", src, e.what()));
    }
    KVMIX_CHECK(pair_names.is_array() && !pair_names.empty(), "{}: field '{}' must list pairs", src,
                pairs_field);
    s.pairs = read_pairs(pair_names, pairs_field, src);
    s.reference_tokens = json_integer(j.at("reference_tokens"), 1, kMaxReferenceTokens,
                                      src + ": field 'reference_tokens'");
    s.full_precision_bytes_per_token = full_precision_layer_bytes_per_token(s);
    return s;
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: malformed file: {}", src, e.what()));
  } catch (const UsageError& e) {
    throw Error(fmt::format("{}: {}", src, e.what()));
  }
}

namespace {

// attn_tv is a total variation distance between probability rows, at most 1; rows of float32
// softmax sum to 1 only within ~1e-7, hence the slack (the schema has the same bound).
constexpr double kMaxAttnTv = 1.0 + 1e-6;

}  // namespace

Sensitivity sensitivity_from_json(const nlohmann::json& j, const std::string& src) {
  try {
    KVMIX_CHECK(j.is_object() && j.contains("schema") && j["schema"] == "kvmix.sensitivity",
                "{}: not a kvmix sensitivity file (schema must be \"kvmix.sensitivity\")", src);
    KVMIX_CHECK(j.contains("version") && j["version"] == 1,
                "{}: sensitivity version {} is not supported (1 is)", src,
                describe_json(j.value("version", nlohmann::json())));
    validate_against_schema(j, kSensitivitySchemaJson, src);
    nlohmann::json names = nlohmann::json::array();
    for (const auto& p : j.at("pairs")) names.push_back(p.at("name"));
    Sensitivity s = sensitivity_head_from_json(j, names, "pairs[].name", src);
    for (size_t p = 0; p < s.pairs.size(); ++p) {
      const auto& e = j["pairs"][p];
      check_pair_format_names(s, p, e.at("k"), e.at("v"), src, fmt::format("pairs[{}]", p));
    }
    const auto& cal = j.at("calibration");
    for (size_t t = 0; t < cal.at("tasks").size(); ++t)
      s.tasks.push_back(
          json_string(cal["tasks"][t], fmt::format("{}: field 'calibration.tasks[{}]'", src, t)));
    s.samples = json_integer(cal.at("samples_per_task"), 1, kMaxCalibSamples,
                             src + ": field 'calibration.samples_per_task'");
    s.continuation_tokens = json_integer(cal.at("continuation_tokens"), 1, kMaxContinuationTokens,
                                         src + ": field 'calibration.continuation_tokens'");
    // Bytes are a function of the pair and the shape: recomputed, and a file that says otherwise
    // (a hand edit, another tool's rounding of the formats) is refused rather than searched on.
    const double fp = json_number(j.at("full_precision_bytes_per_token"), 0, HUGE_VAL,
                                  src + ": field 'full_precision_bytes_per_token'");
    KVMIX_CHECK(same_up_to_rounding(fp, s.full_precision_bytes_per_token),
                "{}: field 'full_precision_bytes_per_token' is {}, but one layer of this model in "
                "its {}-byte dtype takes {} bytes per token",
                src, fp, s.model.model_dtype_bytes, s.full_precision_bytes_per_token);
    std::vector<double> pair_bytes;
    for (size_t p = 0; p < s.pairs.size(); ++p) pair_bytes.push_back(pair_bytes_per_token(s, p));

    const auto& layers = j.at("layers");
    KVMIX_CHECK(static_cast<int64_t>(layers.size()) == s.model.layers,
                "{}: {} layer entries for {} layers", src, layers.size(), s.model.layers);
    for (size_t l = 0; l < layers.size(); ++l) {
      const auto& cells = layers[l].at("cells");
      const int64_t index =
          json_integer(layers[l].at("layer"), 0, kMaxKvLayers, src + ": field 'layers[].layer'");
      KVMIX_CHECK(index == static_cast<int64_t>(l), "{}: layers out of order at {}", src, l);
      KVMIX_CHECK(cells.size() == s.pairs.size(), "{}: layer {} has {} cells for {} pairs", src, l,
                  cells.size(), s.pairs.size());
      std::vector<CellStats> row;
      for (size_t p = 0; p < cells.size(); ++p) {
        const auto& c = cells[p];
        const std::string where =
            fmt::format("{}: layer {} pair {}", src, l, pair_name(s.pairs[p]));
        KvPair named;
        try {
          named = parse_pair(json_string(c.at("pair"), where + ": field 'pair'"));
        } catch (const UsageError& e) {
          throw Error(fmt::format("{}: field 'pair': {}", where, e.what()));
        }
        KVMIX_CHECK(named == s.pairs[p], "{}: layer {} cell {} is not pair {}", src, l, p,
                    pair_name(s.pairs[p]));
        auto value = [&](const char* key, double hi = HUGE_VAL) {
          return json_number(c.at(key), 0, hi, fmt::format("{}: field '{}'", where, key));
        };
        CellStats x;
        x.k_rel_err = value("k_rel_err");
        x.k_rel_err_std = value("k_rel_err_std");
        x.v_rel_err = value("v_rel_err");
        x.v_rel_err_std = value("v_rel_err_std");
        x.attn_tv = value("attn_tv", kMaxAttnTv);
        x.attn_tv_std = value("attn_tv_std");
        x.out_rel_err = value("out_rel_err");
        x.out_rel_err_std = value("out_rel_err_std");
        x.kl = value("kl");
        x.kl_std = value("kl_std");
        x.kl_p90 = value("kl_p90");
        const double bytes = value("bytes_per_token");
        KVMIX_CHECK(same_up_to_rounding(bytes, pair_bytes[p]),
                    "{}: field 'bytes_per_token' is {}, but pair {} under the {} scheme takes {} "
                    "true bytes per token on this model at {} tokens",
                    where, bytes, pair_name(s.pairs[p]), scheme_name(s.scheme), pair_bytes[p],
                    s.reference_tokens);
        x.bytes_per_token = pair_bytes[p];
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
  const auto j = sensitivity_to_json(s);
  validate_against_schema(j, kSensitivitySchemaJson, path + " (being written)");
  write_file_atomic(path, j.dump(2) + "\n");
}

}  // namespace kvmix
