#include "lib/policies/make_policy.h"

#include <algorithm>
#include <cctype>

#include "base/error.h"
#include "lib/policies/knorm.h"
#include "lib/policies/tova.h"

namespace kvmix {

PolicyKind parse_policy(const std::string& name) {
  std::string s = name;
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  if (s == "streaming" || s == "streamingllm" || s == "streaming-llm") return PolicyKind::kStreamingLlm;
  if (s == "h2o") return PolicyKind::kH2o;
  if (s == "snapkv") return PolicyKind::kSnapKv;
  if (s == "tova") return PolicyKind::kTova;
  if (s == "mikv") return PolicyKind::kMikv;
  if (s == "zipvl") return PolicyKind::kZipvl;
  if (s == "kvcrush") return PolicyKind::kKvCrush;
  if (s == "vidkv") return PolicyKind::kVidKv;
  if (s == "knorm") return PolicyKind::kKnorm;
  throw UsageError("unknown token policy '" + name +
                   "' (expected streaming, h2o, snapkv, tova, knorm, mikv, zipvl, kvcrush or vidkv)");
}

const char* policy_name(PolicyKind k) {
  switch (k) {
    case PolicyKind::kStreamingLlm: return "streaming";
    case PolicyKind::kH2o: return "h2o";
    case PolicyKind::kSnapKv: return "snapkv";
    case PolicyKind::kTova: return "tova";
    case PolicyKind::kMikv: return "mikv";
    case PolicyKind::kZipvl: return "zipvl";
    case PolicyKind::kKvCrush: return "kvcrush";
    case PolicyKind::kVidKv: return "vidkv";
    case PolicyKind::kKnorm: return "knorm";
  }
  return "?";
}

std::vector<PolicyKind> all_policies() {
  return {PolicyKind::kStreamingLlm, PolicyKind::kH2o,   PolicyKind::kSnapKv,
          PolicyKind::kTova,         PolicyKind::kKnorm, PolicyKind::kMikv,
          PolicyKind::kZipvl,        PolicyKind::kKvCrush, PolicyKind::kVidKv};
}

nlohmann::json policy_options_to_json(const PolicyOptions& o) {
  return {{"streaming", {{"sinks", o.streaming.sinks}, {"cache_positions", o.streaming.cache_positions}}},
          {"h2o", {{"recent_ratio", o.h2o.recent_ratio}}},
          {"snapkv", {{"window", o.snapkv.window}, {"kernel", o.snapkv.kernel}}},
          {"mikv",
           {{"low_bits", o.mikv.low_bits},
            {"high_bits", o.mikv.high_bits},
            {"recent_ratio", o.mikv.recent_ratio},
            {"balancer", o.mikv.balancer}}},
          {"zipvl", {{"tau", o.zipvl.tau}, {"high_bits", o.zipvl.high_bits}, {"low_bits", o.zipvl.low_bits}}},
          {"kvcrush", {{"crush_ratio", o.kvcrush.crush_ratio}}},
          {"vidkv",
           {{"wide_ratio", o.vidkv.wide_ratio},
            {"salient_ratio", o.vidkv.salient_ratio},
            {"value_group", o.vidkv.value_group},
            {"recent_ratio", o.vidkv.recent_ratio}}}};
}

PolicyOptions policy_options_from_json(const nlohmann::json& j, const std::string& where) {
  try {
    PolicyOptions o;
    const auto& st = j.at("streaming");
    o.streaming.sinks = st.at("sinks").get<int64_t>();
    o.streaming.cache_positions = st.at("cache_positions").get<bool>();
    o.h2o.recent_ratio = j.at("h2o").at("recent_ratio").get<double>();
    o.snapkv.window = j.at("snapkv").at("window").get<int64_t>();
    o.snapkv.kernel = j.at("snapkv").at("kernel").get<int64_t>();
    const auto& mi = j.at("mikv");
    o.mikv.low_bits = mi.at("low_bits").get<int>();
    o.mikv.high_bits = mi.at("high_bits").get<int>();
    o.mikv.recent_ratio = mi.at("recent_ratio").get<double>();
    o.mikv.balancer = mi.at("balancer").get<bool>();
    const auto& zi = j.at("zipvl");
    o.zipvl.tau = zi.at("tau").get<double>();
    o.zipvl.high_bits = zi.at("high_bits").get<int>();
    o.zipvl.low_bits = zi.at("low_bits").get<int>();
    o.kvcrush.crush_ratio = j.at("kvcrush").at("crush_ratio").get<double>();
    const auto& vi = j.at("vidkv");
    o.vidkv.wide_ratio = vi.at("wide_ratio").get<double>();
    o.vidkv.salient_ratio = vi.at("salient_ratio").get<double>();
    o.vidkv.value_group = vi.at("value_group").get<int64_t>();
    o.vidkv.recent_ratio = vi.at("recent_ratio").get<double>();
    return o;
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: malformed policy options: {}", where, e.what()));
  }
}

std::unique_ptr<TokenPolicy> make_token_policy(PolicyKind k, int64_t layers, const PolicyOptions& o) {
  switch (k) {
    case PolicyKind::kStreamingLlm: return std::make_unique<StreamingLlmPolicy>(o.streaming);
    case PolicyKind::kH2o: return std::make_unique<H2oPolicy>(layers, o.h2o);
    case PolicyKind::kSnapKv: return std::make_unique<SnapKvPolicy>(layers, o.snapkv);
    case PolicyKind::kTova: return std::make_unique<TovaPolicy>();
    case PolicyKind::kMikv: return std::make_unique<MikvPolicy>(layers, o.mikv);
    case PolicyKind::kZipvl: return std::make_unique<ZipvlPolicy>(layers, o.zipvl);
    case PolicyKind::kKvCrush: return std::make_unique<KvCrushPolicy>(layers, o.kvcrush);
    case PolicyKind::kVidKv: return std::make_unique<VidKvPolicy>(layers, o.vidkv);
    case PolicyKind::kKnorm: return std::make_unique<KnormPolicy>();
  }
  KVMIX_ASSERT(false, "unknown policy kind");
}

}  // namespace kvmix
