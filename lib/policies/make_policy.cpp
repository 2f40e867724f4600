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
