// `kvmix export`: lowers a per-layer kvmix config to serving engines' formats (KVTuner YAML,
// transformers' quantized cache, vLLM flags, ModelOpt hf_quant_config.json, llama.cpp flags,
// LMDeploy quant_policy), writes each file atomically and prints what each target gave up.
#include <cstdio>
#include <filesystem>

#include "apps/kvmix/command.h"
#include "apps/kvmix/option_checks.h"
#include "lib/io/atomic_file.h"
#include "base/error.h"
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
  std::vector<ExportTarget> targets;
  for (const auto& name : required_list(o.to, "--to")) {
    if (name == "all") {
      for (auto t : all_export_targets()) targets.push_back(t);
    } else {
      targets.push_back(parse_export_target(name));
    }
  }
  const KvConfig c = load_kv_config(o.config);
  // All or nothing: every target is lowered, and every output path checked, before the first
  // file is written, so a config one target cannot take leaves no partial set behind.
  std::vector<std::pair<ExportResult, std::string>> outputs;
  for (ExportTarget t : targets) {
    ExportResult r;
    try {
      r = export_config(c, t);
    } catch (const Error& e) {
      throw Error(fmt::format("{}: cannot export to {}: {}", o.config, export_target_name(t),
                              e.what()));
    }
    const std::string path = (std::filesystem::path(o.out_dir) / r.file_name).string();
    refuse_output_over_inputs(path, "--out-dir", {o.config});
    outputs.emplace_back(std::move(r), path);
  }
  std::error_code ec;
  std::filesystem::create_directories(o.out_dir, ec);
  KVMIX_CHECK(!ec, "{}: cannot create the output folder: {}", o.out_dir, ec.message());
  for (const auto& [r, path] : outputs) {
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
  sub->add_option("config", o->config, "kvmix per-layer config (JSON)")
      ->required()->check(CLI::ExistingFile);
  sub->add_option("--to", o->to, "kvtuner, hf, vllm, modelopt, llamacpp, lmdeploy or all")
      ->delimiter(',')
      ->check(non_empty())
      ->check(parsed_by(
          [](const std::string& s) {
            if (s != "all") parse_export_target(s);
          },
          "TARGET"))
      ->capture_default_str();
  sub->add_option("-o,--out-dir", o->out_dir, "Folder for the exported files")
      ->check(non_empty())->check(CLI::NonexistentPath | CLI::ExistingDirectory)
      ->capture_default_str();
  return {sub, [o] { return run_export_command(*o); }};
}

}  // namespace
KVMIX_REGISTER_COMMAND(setup_export);
}  // namespace kvmix::app
