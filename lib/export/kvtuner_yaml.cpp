#include "lib/export/kvtuner_yaml.h"

#include <spdlog/fmt/fmt.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <sstream>

#include "lib/io/atomic_file.h"  // read_file
#include "base/error.h"
#include "lib/export/lowering.h"

namespace kvmix {
namespace {

// KVTuner's bits for one side: the code width; fp16 layers are written as 16.
int kvtuner_bits(const QuantFormat& f) {
  switch (f.kind) {
    case QuantKind::kNone: return 16;
    case QuantKind::kUniform: return f.bits;
    case QuantKind::kTernary: return 2;  // 1.58 has no integer KVTuner equivalent; 2 is the next up
    case QuantKind::kFp8E4M3: return 8;
  }
  return 16;
}

bool exact_kind(const QuantFormat& f) {
  return f.kind == QuantKind::kNone || f.kind == QuantKind::kUniform;
}

bool layer_matches(Scheme s, const LayerKvFormat& l) {
  return l.k == key_format(s, kvtuner_bits(l.k)) && l.v == value_format(s, kvtuner_bits(l.v));
}

const char* scheme_file_tag(Scheme s) { return s == Scheme::kKivi ? "kivi" : "pertoken"; }

std::string scheme_description(Scheme s) {
  return s == Scheme::kKivi ? "kivi (keys per-channel, values per-token, group 32, residual 32, "
                              "asymmetric, fp16 scales)"
                            : "per-token (keys and values per-token, group = head_dim, no "
                              "residual, asymmetric, fp16 scales)";
}

std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// Strict integer from a YAML scalar: digits only (with an optional sign), no trailing text, no
// leading zero (PyYAML, which KVTuner loads presets with, reads 016 as octal 14).
bool parse_int(const std::string& s, int64_t& out) {
  if (s.empty() || s.size() > 18) return false;
  size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  if (i == s.size()) return false;
  if (s[i] == '0' && i + 1 < s.size()) return false;
  for (size_t k = i; k < s.size(); ++k)
    if (!std::isdigit(static_cast<unsigned char>(s[k]))) return false;
  out = std::stoll(s);
  return true;
}

std::string where(const std::string& source, const YAML::Node& n) {
  const auto m = n.Mark();
  return m.line >= 0 ? fmt::format("{}:{}", source, m.line + 1) : source;
}

int read_bits(const YAML::Node& entry, const char* key, int64_t layer, const std::string& source) {
  const YAML::Node n = entry[key];
  KVMIX_CHECK(n.IsDefined() && !n.IsNull(), "{}: layer {} has no {}", where(source, entry), layer,
              key);
  int64_t b = 0;
  KVMIX_CHECK(n.IsScalar() && parse_int(n.Scalar(), b), "{}: layer {}: {} must be an integer, not '{}'",
              where(source, n), layer, key, n.IsScalar() ? n.Scalar() : std::string("(a collection)"));
  KVMIX_CHECK(b >= 0 && b <= 16 && pair_bits_supported(static_cast<int>(b)),
              "{}: layer {}: {} {} is not supported (1, 2, 3, 4, 8 or 16 bits)", where(source, n),
              layer, key, b);
  return static_cast<int>(b);
}

}  // namespace

ExportResult export_kvtuner(const KvConfig& c) {
  ExportResult r;
  r.target = "kvtuner";
  // The scheme most layers follow names the file; the others are losses.
  size_t best = 0;
  Scheme scheme = Scheme::kKivi;
  for (Scheme s : {Scheme::kKivi, Scheme::kPerToken}) {
    const size_t n = static_cast<size_t>(std::count_if(
        c.layers.begin(), c.layers.end(), [&](const LayerKvFormat& l) { return layer_matches(s, l); }));
    if (n > best) best = n, scheme = s;
  }
  std::vector<size_t> other, fp8, ternary;
  for (size_t l = 0; l < c.layers.size(); ++l) {
    const auto& f = c.layers[l];
    if (f.k.kind == QuantKind::kFp8E4M3 || f.v.kind == QuantKind::kFp8E4M3) fp8.push_back(l);
    if (f.k.kind == QuantKind::kTernary || f.v.kind == QuantKind::kTernary) ternary.push_back(l);
    if (exact_kind(f.k) && exact_kind(f.v) && !layer_matches(scheme, f)) other.push_back(l);
  }
  if (!other.empty())
    r.losses.push_back(fmt::format(
        "{}: their encoding is not KVTuner's {} scheme (group, axis, residual, symmetry or "
        "scale dtype differ); only their bits are written",
        layers_label(other), scheme_name(scheme)));
  if (!fp8.empty())
    r.losses.push_back(fmt::format(
        "{}: fp8 e4m3 has no KVTuner equivalent; written as 8-bit integers",
        layers_label(fp8)));
  if (!ternary.empty())
    r.losses.push_back(fmt::format(
        "{}: ternary (1.58-bit) values have no KVTuner equivalent; written as 2 bits",
        layers_label(ternary)));
  const auto fp16 = full_precision_layers(c);
  if (!fp16.empty())
    r.losses.push_back(fmt::format(
        "{}: kept in fp16 and written as 16 bits, outside KVTuner's candidate set "
        "(2, 4, 8); its quantized cache may not accept them",
        layers_label(fp16)));

  r.file_name = fmt::format("kvtuner_{}.yaml", scheme_file_tag(scheme));
  r.text = fmt::format(
      "# KVTuner per-layer preset exported by kvmix for {} ({} layers).\n"
      "# Scheme: {}. Load with KVTuner's per_layer_config_path.\n",
      c.model.architecture, c.layers.size(), scheme_description(scheme));
  for (size_t l = 0; l < c.layers.size(); ++l)
    r.text += fmt::format("{}:\n  nbits_key: {}\n  nbits_value: {}\n", l,
                          kvtuner_bits(c.layers[l].k), kvtuner_bits(c.layers[l].v));
  return r;
}

std::optional<Scheme> scheme_from_preset_name(const std::string& path) {
  const std::string name = lower(path.substr(path.find_last_of('/') + 1));
  const bool kivi = name.find("kivi") != std::string::npos;
  const bool per_token = name.find("pertoken") != std::string::npos ||
                         name.find("per-token") != std::string::npos ||
                         name.find("per_token") != std::string::npos;
  if (kivi && per_token)
    throw UsageError(fmt::format("{}: the file name names both the kivi and the per-token scheme; "
                                 "pass --scheme", path));
  if (kivi) return Scheme::kKivi;
  if (per_token) return Scheme::kPerToken;
  return std::nullopt;
}

namespace {

// Counts documents up to `limit`, ignoring their content.
size_t count_documents(const std::string& text, size_t limit) {
  struct Ignore : YAML::EventHandler {
    void OnDocumentStart(const YAML::Mark&) override {}
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}
  } ignore;
  std::istringstream in(text);
  YAML::Parser parser(in);
  size_t docs = 0;
  while (docs < limit && parser.HandleNextDocument(ignore)) ++docs;
  return docs;
}

}  // namespace

KvConfig import_kvtuner(const std::string& text, const std::string& source, Scheme scheme,
                        const KvShape& model) {
  try {
    check_scheme_fits(scheme, model.head_dim);
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", source, e.what()));
  }
  YAML::Node root;
  try {
    // PyYAML's yaml.safe_load refuses a stream of several documents; yaml-cpp's Load would
    // silently take the first.
    // Not YAML::LoadAll: yaml-cpp 0.7 (Debian 12's) reports a null document on a top-level ","
    // without consuming it, so LoadAll appends documents forever (a fuzz finding). Counting with
    // the event parser and stopping at the second document always ends.
    KVMIX_CHECK(count_documents(text, 2) <= 1,
                "{}: holds more than one YAML document; a KVTuner preset is one mapping (PyYAML "
                "refuses more)",
                source);
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw Error(fmt::format("{}: not valid YAML: {}", source, e.what()));
  }
  KVMIX_CHECK(root.IsMap(),
              "{}: expected a KVTuner preset, a mapping of layer index to {{nbits_key, nbits_value}}",
              source);
  std::map<int64_t, KvPair> pairs;
  for (const auto& kv : root) {
    int64_t layer = -1;
    KVMIX_CHECK(kv.first.IsScalar() && parse_int(kv.first.Scalar(), layer) && layer >= 0,
                "{}: '{}' is not a layer index (a non-negative integer)", where(source, kv.first),
                kv.first.IsScalar() ? kv.first.Scalar() : std::string("(a collection)"));
    KVMIX_CHECK(kv.second.IsMap(), "{}: layer {} must map to {{nbits_key, nbits_value}}",
                where(source, kv.first), layer);
    // yaml-cpp keeps both entries of a repeated key and looks up the first; PyYAML keeps the
    // last. Either reading could be wrong, so a repeated key is refused.
    bool seen_key = false, seen_value = false;
    for (const auto& field : kv.second) {
      const std::string k = field.first.IsScalar() ? field.first.Scalar() : "(a collection)";
      KVMIX_CHECK(k == "nbits_key" || k == "nbits_value",
                  "{}: layer {}: unknown key '{}' (a preset has nbits_key and nbits_value)",
                  where(source, field.first), layer, k);
      bool& seen = k == "nbits_key" ? seen_key : seen_value;
      KVMIX_CHECK(!seen, "{}: layer {}: duplicate key '{}'", where(source, field.first), layer, k);
      seen = true;
    }
    const KvPair p{read_bits(kv.second, "nbits_key", layer, source),
                   read_bits(kv.second, "nbits_value", layer, source)};
    KVMIX_CHECK(pairs.emplace(layer, p).second, "{}: duplicate key '{}': layer {} appears twice",
                where(source, kv.first), kv.first.Scalar(), layer);
  }
  KVMIX_CHECK(static_cast<int64_t>(pairs.size()) == model.layers,
              "{}: {} layer entries, but the model has {} layers", source, pairs.size(),
              model.layers);
  KvConfig c;
  c.model = model;
  c.layers.reserve(pairs.size());
  for (int64_t l = 0; l < model.layers; ++l) {
    const auto it = pairs.find(l);
    KVMIX_CHECK(it != pairs.end(), "{}: layer {} is missing (the model has layers 0-{})", source, l,
                model.layers - 1);
    c.layers.push_back({key_format(scheme, it->second.k_bits), value_format(scheme, it->second.v_bits)});
  }
  const std::string name = source.substr(source.find_last_of('/') + 1);
  c.provenance.calibration = fmt::format("KVTuner preset {} (scheme {})", name, scheme_name(scheme));
  c.provenance.objective = "imported: KVTuner's search objective";
  return c;
}

KvConfig load_kvtuner_preset(const std::string& path, std::optional<Scheme> scheme,
                             const KvShape& model, int64_t reference_tokens) {
  if (!scheme) scheme = scheme_from_preset_name(path);
  if (!scheme)
    throw UsageError(fmt::format(
        "{}: the file name names no scheme (kivi or pertoken, as KVTuner's presets do); pass "
        "--scheme kivi or --scheme per-token",
        path));
  constexpr int64_t kMaxReferenceTokens = int64_t{1} << 24;  // lib/kv_config.schema.json's bound
  KVMIX_CHECK(reference_tokens >= 1 && reference_tokens <= kMaxReferenceTokens,
              "{}: the reference context must be 1 to {} tokens, not {}", path, kMaxReferenceTokens,
              reference_tokens);
  KvConfig c = import_kvtuner(read_file(path), path, *scheme, model);
  c.reference_tokens = reference_tokens;
  return c;
}

}  // namespace kvmix
