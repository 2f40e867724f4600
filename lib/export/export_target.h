#pragma once
// The export targets by name, for the command line and for `--to all`. Each target's lowering
// rule is documented in its own header (lib/export/<target>*.h).
#include <string>
#include <vector>

#include "lib/export/export_result.h"
#include "lib/kv_config.h"

namespace kvmix {

enum class ExportTarget { kKvtuner, kHf, kVllm, kModelopt, kLlamacpp, kLmdeploy };

// "kvtuner", "hf", "vllm", "modelopt", "llamacpp", "lmdeploy"; UsageError listing them otherwise.
ExportTarget parse_export_target(const std::string& name);
const char* export_target_name(ExportTarget t);
std::vector<ExportTarget> all_export_targets();

ExportResult export_config(const KvConfig& c, ExportTarget t);

}  // namespace kvmix
