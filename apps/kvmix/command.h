#pragma once
// Each subcommand lives in its own file (apps/kvmix/cmd_<name>.cpp) with a plain
// <Name>Options struct, a setup function that declares its flags on a CLI11 subcommand, and a
// run function that calls one library function. Files register themselves here, so adding a
// command never edits main.cpp.
#include <CLI/CLI.hpp>

#include <functional>
#include <vector>

namespace kvmix::app {

// What setup returns: the subcommand CLI11 parsed into, and how to run it once parsed.
struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;  // returns the process exit status
  // Runs as the ranks of an MPI job (`mpirun -np N kvmix ...`, lib/process/team.h): rank 0 runs the
  // command, the others serve its work items once the model is loaded. Other commands refuse to
  // start on several ranks.
  bool team = false;
};

using SetupFn = Command (*)(CLI::App& parent);

std::vector<SetupFn>& command_registry();

struct RegisterCommand {
  explicit RegisterCommand(SetupFn fn) { command_registry().push_back(fn); }
};

}  // namespace kvmix::app

#define KVMIX_REGISTER_COMMAND(fn) \
  static const ::kvmix::app::RegisterCommand kvmix_register_##fn{fn}
