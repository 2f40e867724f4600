#pragma once
// `kvmix bench` is a parent command: each benchmark is a subcommand in its own file
// (apps/kvmix/cmd_bench_<name>.cpp) that registers itself here, the way top-level commands
// register with command_registry(), so adding `bench model` touches no other file.
#include "apps/kvmix/command.h"

namespace kvmix::app {

// Setup functions of the `bench` subcommands; each receives the `bench` CLI::App as parent.
std::vector<SetupFn>& bench_registry();

struct RegisterBench {
  explicit RegisterBench(SetupFn fn) { bench_registry().push_back(fn); }
};

}  // namespace kvmix::app

#define KVMIX_REGISTER_BENCH(fn) static const ::kvmix::app::RegisterBench kvmix_register_bench_##fn{fn}
