// `kvmix profile`: the first stage of `kvmix tune` alone. Quantizes one layer at a time with each
// candidate pair on the calibration split and writes the per-cell errors to sensitivity.json, with
// a heatmap (layers x pairs, attention-output error) beside it. `kvmix search --sensitivity` reads
// the file; several searches (metrics, budgets, methods) can share one profile.
#include <spdlog/spdlog.h>

#include <filesystem>

#include "apps/kvmix/command.h"
#include "apps/kvmix/model_options.h"
#include "search/plots.h"
#include "apps/kvmix/stage_options.h"
#include "search/run_timing.h"
#include "base/error.h"
#include "lib/process/team.h"
#include "search/team_work.h"

namespace fs = std::filesystem;

namespace kvmix::app {
namespace {

struct ProfileCommandOptions {
  ModelOptions model;
  ProfileStageOptions profile;
  std::string out = "sensitivity.json";  // the heatmap goes beside it, as .png
};

int run_profile_command(const ProfileCommandOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  const fs::path out(o.out);
  // The heatmap takes the file's name with .png: it must not land on the sensitivity file itself.
  if (out.extension() == ".png") throw UsageError("profile: --out " + o.out + " must not end in .png");
  if (out.has_parent_path() && team().rank == 0) {
    std::error_code ec;
    fs::create_directories(out.parent_path(), ec);
    KVMIX_CHECK(!ec, "{}: cannot create the output folder: {}", out.parent_path().string(), ec.message());
  }
  const std::atomic<bool>& stop = stop_on_sigint();
  const auto rt = load_runtime(o.model);
  if (team().rank > 0) return serve_team(rt.model, rt.tokenizer);
  const Sensitivity s = profile_stage(rt.model, rt.tokenizer, o.profile, o.out, &stop);
  const std::string png = fs::path(out).replace_extension(".png").string();
  plot_sensitivity_heatmap(s, ErrorMetric::kOutRelErr, png);
  spdlog::info("wrote {} and {} ({} layers x {} pairs) in {:.1f} s", o.out, png, s.cells.size(), s.pairs.size(),
               seconds_since(t0));
  return 0;
}

Command setup_profile(CLI::App& parent) {
  auto o = std::make_shared<ProfileCommandOptions>();
  auto* sub = parent.add_subcommand(
      "profile", "Per-layer sensitivity: each layer quantized alone with each candidate pair (sensitivity.json)");
  add_model_options(sub, o->model);
  add_profile_stage_options(sub, o->profile);
  sub->add_option("-o,--out", o->out, "Sensitivity file to write (JSON; the heatmap goes beside it as .png)")
      ->capture_default_str();
  return {sub, [o] { return run_profile_command(*o); }, /*team=*/true};
}

}  // namespace
KVMIX_REGISTER_COMMAND(setup_profile);
}  // namespace kvmix::app
