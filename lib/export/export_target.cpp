#include "lib/export/export_target.h"

#include "base/error.h"
#include "lib/export/hf_quantized_cache.h"
#include "lib/export/kvtuner_yaml.h"
#include "lib/export/llamacpp_flags.h"
#include "lib/export/lmdeploy_policy.h"
#include "lib/export/modelopt_config.h"
#include "lib/export/vllm_flags.h"

namespace kvmix {
namespace {

struct TargetEntry {
  ExportTarget target;
  const char* name;
  ExportResult (*convert)(const KvConfig&);
};

constexpr TargetEntry kTargets[] = {
    {ExportTarget::kKvtuner, "kvtuner", export_kvtuner},
    {ExportTarget::kHf, "hf", export_hf},
    {ExportTarget::kVllm, "vllm", export_vllm},
    {ExportTarget::kModelopt, "modelopt", export_modelopt},
    {ExportTarget::kLlamacpp, "llamacpp", export_llamacpp},
    {ExportTarget::kLmdeploy, "lmdeploy", export_lmdeploy},
};

const TargetEntry& entry(ExportTarget t) {
  for (const auto& e : kTargets)
    if (e.target == t) return e;
  KVMIX_ASSERT(false, "export target {} has no table entry", static_cast<int>(t));
}

}  // namespace

ExportTarget parse_export_target(const std::string& name) {
  std::string known;
  for (const auto& e : kTargets) {
    if (name == e.name) return e.target;
    known += known.empty() ? e.name : std::string(", ") + e.name;
  }
  throw UsageError("unknown export target '" + name + "' (expected " + known + " or all)");
}

const char* export_target_name(ExportTarget t) { return entry(t).name; }

std::vector<ExportTarget> all_export_targets() {
  std::vector<ExportTarget> out;
  for (const auto& e : kTargets) out.push_back(e.target);
  return out;
}

ExportResult export_config(const KvConfig& c, ExportTarget t) { return entry(t).convert(c); }

}  // namespace kvmix
