#pragma once
// The flags of the profile and search stages, shared by `kvmix profile`, `kvmix search` and
// `kvmix tune` (the stages themselves: search/tune_stages.h). Each flag is checked by a CLI11
// validator at parse time, so a bad value is a usage error (exit 2) before any work starts.
#include <CLI/CLI.hpp>
#include <spdlog/fmt/fmt.h>

#include <atomic>

#include "search/tune_stages.h"

namespace kvmix::app {

void add_profile_stage_options(CLI::App* sub, ProfileStageOptions& o);
void add_search_stage_options(CLI::App* sub, SearchStageOptions& o);

// Set by SIGINT once installed: the running stage stops within one calibration batch, evaluation
// or eval task, keeps what finished, and the command exits 130 so that a rerun continues.
const std::atomic<bool>& stop_on_sigint();

}  // namespace kvmix::app
