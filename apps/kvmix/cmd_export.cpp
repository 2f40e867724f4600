// `kvmix export`: lowers a per-layer kvmix config to serving engines' formats (KVTuner YAML,
// transformers' quantized cache, vLLM flags, ModelOpt hf_quant_config.json, llama.cpp flags,
// LMDeploy quant_policy), writes each file atomically and prints what each target gave up.
#include <cstdio>
#include <filesystem>

#include "apps/kvmix/command.h"
#include "apps/kvmix/model_options.h"  // split_list
#include "lib/atomic_file.h"
#include "lib/error.h"
#include "lib/export/export_target.h"
#include "lib/kv_config.h"

namespace kvmix::app {
namespace {

struct ExportOptions {
  std::string config;                 // a kvmix per-layer config (lib/kv_config.schema.json)
  std::vector<std::string> to = {"all"};
  std::string out_dir = ".";
};

int run_export_command(const ExportOptions& o) {
  const KvConfig c = load_kv_config(o.config);
  std::vector<ExportTarget> targets;
  for (const auto& name : split_list(o.to)) {
    if (name == "all") {
      for (auto t : all_export_targets()) targets.push_back(t);
    } else {
      targets.push_back(parse_export_target(name));
    }
  }
  std::error_code ec;
  std::filesystem::create_directories(o.out_dir, ec);
  KVMIX_CHECK(!ec, "{}: cannot create the output folder: {}", o.out_dir, ec.message());
  for (ExportTarget t : targets) {
    const ExportResult r = export_config(c, t);
    const std::string path = (std::filesystem::path(o.out_dir) / r.file_name).string();
    write_file_atomic(path, r.text);
    std::printf("%s -> %s\n", r.target.c_str(), path.c_str());
    if (r.losses.empty()) std::printf("  exact: nothing lost\n");
    for (const auto& loss : r.losses) std::printf("  lost: %s\n", loss.c_str());
  }
  return 0;
}

Command setup_export(CLI::App& parent) {
  auto o = std::make_shared<ExportOptions>();
  auto* sub = parent.add_subcommand(
      "export", "Lower a per-layer kvmix config to serving engines, listing what each cannot express");
  sub->add_option("config", o->config, "kvmix per-layer config (JSON)")->required();
  sub->add_option("--to", o->to, "kvtuner, hf, vllm, modelopt, llamacpp, lmdeploy or all")
      ->delimiter(',')
      ->capture_default_str();
  sub->add_option("-o,--out-dir", o->out_dir, "Folder for the exported files")->capture_default_str();
  return {sub, [o] { return run_export_command(*o); }};
}

}  // namespace
KVMIX_REGISTER_COMMAND(setup_export);
}  // namespace kvmix::app
