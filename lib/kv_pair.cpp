#include "lib/kv_pair.h"

#include <cctype>

#include "base/error.h"
#include "kernels/quant_layout.h"  // validate_format

namespace kvmix {
namespace {

int parse_bits(const std::string& s, const std::string& whole) {
  if (s.empty() || s.size() > 2) throw UsageError("bad KV pair '" + whole + "'");
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) throw UsageError("bad KV pair '" + whole + "'");
  const int b = std::stoi(s);
  if (!pair_bits_supported(b))
    throw UsageError("KV pair '" + whole + "': " + s + " bits is not supported (1, 2, 3, 4, 8, 16)");
  return b;
}

}  // namespace

bool pair_bits_supported(int b) { return b == 1 || b == 2 || b == 3 || b == 4 || b == 8 || b == 16; }

KvPair parse_pair(const std::string& text) {
  std::string t;
  for (char c : text) t.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  if (t == "FP16" || t == "BF16" || t == "FULL") return {16, 16};
  if (t.rfind("KV", 0) == 0) {
    const int b = parse_bits(t.substr(2), text);
    return {b, b};
  }
  const size_t v = t.find('V');
  if (t.empty() || t[0] != 'K' || v == std::string::npos)
    throw UsageError("bad KV pair '" + text + "' (expected names like K4V2, KV8, K8V4)");
  return {parse_bits(t.substr(1, v - 1), text), parse_bits(t.substr(v + 1), text)};
}

std::string pair_name(const KvPair& p) {
  if (p.k_bits == p.v_bits) return "KV" + std::to_string(p.k_bits);
  return "K" + std::to_string(p.k_bits) + "V" + std::to_string(p.v_bits);
}

Scheme parse_scheme(const std::string& t) {
  if (t == "kivi" || t == "KIVI") return Scheme::kKivi;
  if (t == "per-token" || t == "pertoken" || t == "per_token") return Scheme::kPerToken;
  throw UsageError("unknown scheme '" + t + "' (expected kivi or per-token)");
}

const char* scheme_name(Scheme s) { return s == Scheme::kKivi ? "kivi" : "per-token"; }

QuantFormat key_format(Scheme s, int bits) {
  if (bits >= 16) return full_precision();
  if (s == Scheme::kKivi) return uniform_format(bits, QuantAxis::kPerChannel, 32, 32);
  return uniform_format(bits, QuantAxis::kPerToken, 0, 0);
}

QuantFormat value_format(Scheme s, int bits) {
  if (bits >= 16) return full_precision();
  if (s == Scheme::kKivi) return uniform_format(bits, QuantAxis::kPerToken, 32, 32);
  return uniform_format(bits, QuantAxis::kPerToken, 0, 0);
}

void check_scheme_fits(Scheme s, int64_t head_dim) {
  // Every bit width of a scheme has the same axis, group and residual: one width checks them all.
  for (const auto& [side, f] : {std::pair{"keys", key_format(s, 4)}, {"values", value_format(s, 4)}}) {
    try {
      validate_format(f, head_dim);
    } catch (const Error& e) {
      throw Error(fmt::format("the {} scheme does not fit head_dim {} ({}: {}); use the per-token "
                              "scheme for this model",
                              scheme_name(s), head_dim, side, e.what()));
    }
  }
}

std::vector<LayerKvFormat> uniform_layers(Scheme s, const KvPair& p, int64_t layers) {
  return std::vector<LayerKvFormat>(static_cast<size_t>(layers),
                                    LayerKvFormat{key_format(s, p.k_bits), value_format(s, p.v_bits)});
}

std::vector<KvPair> default_candidate_pairs() {
  std::vector<KvPair> out;
  for (int k : {2, 4, 8})
    for (int v : {2, 4, 8}) out.push_back({k, v});
  return out;
}

}  // namespace kvmix
