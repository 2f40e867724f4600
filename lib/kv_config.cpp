#include "lib/kv_config.h"

#include <set>

#include "kernels/ops.h"
#include "kernels/quant_layout.h"  // validate_format
#include "kvmix_schemas.h"
#include "kvmix_version.h"
#include "lib/io/atomic_file.h"
#include "base/error.h"
#include "lib/io/json_file.h"
#include "lib/io/json_schema.h"

namespace kvmix {

double layer_bytes_per_token(const KvConfig& c, size_t l, int64_t tokens) {
  const auto& f = c.layers.at(l);
  const KvShape& m = c.model;
  const int64_t b = true_bytes(m.kv_heads, tokens, m.head_dim, f.k, m.model_dtype_bytes) +
                    true_bytes(m.kv_heads, tokens, m.head_dim, f.v, m.model_dtype_bytes);
  return static_cast<double>(b) / static_cast<double>(tokens);
}

double total_bytes_per_token(const KvConfig& c, int64_t tokens) {
  double s = 0;
  for (size_t l = 0; l < c.layers.size(); ++l) s += layer_bytes_per_token(c, l, tokens);
  return s;
}

double true_bits_per_element(const KvConfig& c, int64_t tokens) {
  const double elems = 2.0 * static_cast<double>(c.layers.size() * c.model.kv_heads * c.model.head_dim);
  return 8.0 * total_bytes_per_token(c, tokens) / elems;
}

double nominal_bits(const KvConfig& c) {
  double s = 0;
  for (const auto& f : c.layers) s += 0.5 * (nominal_bits(f.k) + nominal_bits(f.v));
  return s / static_cast<double>(c.layers.size());
}

nlohmann::json format_to_json(const QuantFormat& f) {
  using nlohmann::json;
  switch (f.kind) {
    case QuantKind::kNone:
      return json{{"family", "fp16"}, {"bits", 16}};
    case QuantKind::kFp8E4M3:
      return json{{"family", "fp8_e4m3"}, {"bits", 8}, {"scales", "dynamic"},
                  {"fp8_scale", f.fp8_scope == Fp8Scope::kPerHead ? "per-head" : "per-tensor"},
                  {"scale_dtype", "fp32"}, {"residual", f.residual}};
    case QuantKind::kUniform:
    case QuantKind::kTernary:
      break;
  }
  json j = {{"family", f.kind == QuantKind::kTernary ? "ternary" : "uniform"},
            {"bits", f.kind == QuantKind::kTernary ? 1.58 : static_cast<double>(f.bits)},
            {"axis", f.axis == QuantAxis::kPerChannel ? "per-channel" : "per-token"},
            {"group", f.group},
            {"symmetric", f.symmetric},
            {"scale_dtype", f.scale_dtype == ScaleDtype::kF16 ? "fp16" : "fp32"},
            {"scales", "dynamic"},
            {"residual", f.residual},
            {"packing", f.kind == QuantKind::kTernary ? "base-3, 20 trits per uint32"
                                                       : "little-endian bit stream per group in uint32 words"}};
  if (f.kind == QuantKind::kUniform) j["bits"] = f.bits;
  return j;
}

QuantFormat format_from_json(const nlohmann::json& j, const std::string& where) {
  const std::string family = j.at("family").get<std::string>();
  if (family == "fp16") return full_precision();
  if (family == "fp8_e4m3") {
    return fp8_format(j.value("fp8_scale", "per-head") == "per-tensor" ? Fp8Scope::kPerTensor
                                                                        : Fp8Scope::kPerHead,
                      j.value("residual", 0));
  }
  const QuantAxis axis = j.value("axis", "per-token") == "per-channel" ? QuantAxis::kPerChannel
                                                                      : QuantAxis::kPerToken;
  const ScaleDtype sd = j.value("scale_dtype", "fp16") == "fp32" ? ScaleDtype::kF32 : ScaleDtype::kF16;
  const int group = j.value("group", 0);
  const int residual = j.value("residual", 0);
  if (family == "ternary") return ternary_format(axis, group, residual, sd);
  const double bits = j.at("bits").get<double>();
  const int b = static_cast<int>(bits);
  KVMIX_CHECK(static_cast<double>(b) == bits && (b == 1 || b == 2 || b == 3 || b == 4 || b == 8),
              "{}: uniform formats have 1, 2, 3, 4 or 8 bits, not {}", where, bits);
  KVMIX_CHECK(axis == QuantAxis::kPerToken || group > 0,
              "{}: a per-channel format needs a group size (tokens per group)", where);
  return uniform_format(b, axis, group, residual, j.value("symmetric", false), sd);
}

nlohmann::json layer_formats_to_json(const std::vector<LayerKvFormat>& layers) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& x : layers) out.push_back({{"k", format_to_json(x.k)}, {"v", format_to_json(x.v)}});
  return out;
}

std::vector<LayerKvFormat> layer_formats_from_json(const nlohmann::json& j, const std::string& where) {
  KVMIX_CHECK(j.is_array(), "{}: layer formats must be a list", where);
  std::vector<LayerKvFormat> out;
  for (const auto& x : j) {
    KVMIX_CHECK(x.is_object() && x.contains("k") && x.contains("v"), "{}: a layer's formats need 'k' and 'v'", where);
    out.push_back({format_from_json(x.at("k"), where), format_from_json(x.at("v"), where)});
  }
  return out;
}

nlohmann::json kv_config_to_json(const KvConfig& c) {
  using nlohmann::json;
  json formats = json::object(), layers = json::array();
  for (size_t l = 0; l < c.layers.size(); ++l) {
    const std::string kn = format_name(c.layers[l].k), vn = format_name(c.layers[l].v);
    formats[kn] = format_to_json(c.layers[l].k);
    formats[vn] = format_to_json(c.layers[l].v);
    const auto& m = c.model;
    auto bpt = [&](const QuantFormat& f) {
      return static_cast<double>(true_bytes(m.kv_heads, c.reference_tokens, m.head_dim, f,
                                            m.model_dtype_bytes)) /
             static_cast<double>(c.reference_tokens);
    };
    layers.push_back({{"layer", l}, {"k", kn}, {"v", vn}, {"k_bytes_per_token", bpt(c.layers[l].k)},
                      {"v_bytes_per_token", bpt(c.layers[l].v)}});
  }
  const auto& p = c.provenance;
  json j = json{
      {"schema", kKvConfigSchema},
      {"version", kKvConfigVersion},
      {"producer", {{"name", p.producer}, {"version", p.producer_version.empty() ? KVMIX_VERSION : p.producer_version}}},
      {"provenance", {{"model_path", p.model_path}, {"calibration", p.calibration},
                      {"objective", p.objective}, {"budget", p.budget}, {"seed", p.seed},
                      {"measured", p.measured}}},
      {"formats", formats},
      {"layers", layers},
      {"totals", {{"reference_tokens", c.reference_tokens},
                  {"bytes_per_token", total_bytes_per_token(c, c.reference_tokens)},
                  {"true_bits_per_element", true_bits_per_element(c, c.reference_tokens)},
                  {"nominal_bits", nominal_bits(c)}}},
  };
  kv_shape_to_json(c.model, j);
  return j;
}

KvConfig kv_config_from_json(const nlohmann::json& j, const std::string& source) {
  validate_against_schema(j, kKvConfigSchemaJson, source);
  KvConfig c;
  c.model = kv_shape_from_json(j, source);
  c.reference_tokens = j.at("totals").at("reference_tokens").get<int64_t>();
  if (j.contains("provenance")) {
    const auto& p = j["provenance"];
    c.provenance.model_path = p.value("model_path", "");
    c.provenance.calibration = p.value("calibration", "");
    c.provenance.objective = p.value("objective", "");
    c.provenance.budget = p.value("budget", "");
    c.provenance.seed = p.value("seed", uint64_t{0});
    c.provenance.measured = p.value("measured", nlohmann::json::object());
  }
  c.provenance.producer = j["producer"].value("name", "");
  c.provenance.producer_version = j["producer"].value("version", "");

  std::map<std::string, QuantFormat> formats;
  for (const auto& [name, f] : j.at("formats").items())
    formats[name] = format_from_json(f, fmt::format("{}: formats.{}", source, name));
  const auto& layers = j.at("layers");
  KVMIX_CHECK(static_cast<int64_t>(layers.size()) == c.model.layers,
              "{}: {} layer entries for a model of {} layers", source, layers.size(), c.model.layers);
  c.layers.resize(layers.size());
  std::set<int64_t> seen;
  for (const auto& e : layers) {
    const int64_t l = e.at("layer").get<int64_t>();
    KVMIX_CHECK(l < c.model.layers, "{}: layer {} is out of range (the model has {})", source, l,
                c.model.layers);
    KVMIX_CHECK(seen.insert(l).second, "{}: layer {} appears twice", source, l);
    for (const char* side : {"k", "v"}) {
      const std::string name = e.at(side).get<std::string>();
      KVMIX_CHECK(formats.count(name), "{}: layer {} {} names format '{}', which is not in formats",
                  source, l, side, name);
    }
    c.layers[static_cast<size_t>(l)] = {formats.at(e["k"].get<std::string>()),
                                        formats.at(e["v"].get<std::string>())};
    // A format must fit this model's head (a per-token group divides head_dim), so that a loaded
    // config can always be stored and its bytes counted.
    for (const QuantFormat* f : {&c.layers[static_cast<size_t>(l)].k, &c.layers[static_cast<size_t>(l)].v}) {
      if (f->kind == QuantKind::kNone) continue;
      try {
        validate_format(*f, c.model.head_dim);
      } catch (const Error& err) {
        throw Error(fmt::format("{}: layer {}: {}", source, l, err.what()));
      }
    }
  }
  return c;
}

KvConfig load_kv_config(const std::string& path) {
  return kv_config_from_json(read_json_file(path), path);
}

void save_kv_config(const KvConfig& c, const std::string& path) {
  const auto j = kv_config_to_json(c);
  validate_against_schema(j, kKvConfigSchemaJson, path + " (being written)");
  write_file_atomic(path, j.dump(2) + "\n");
}

void check_kv_config_matches(const KvConfig& c, const KvShape& m, const std::string& source) {
  kv_shape_check_same(c.model, m, source);
}

}  // namespace kvmix
