// `kvmix bench`: the parent of the benchmark subcommands (apps/kvmix/cmd_bench.h).
#include "apps/kvmix/cmd_bench.h"

namespace kvmix::app {

std::vector<SetupFn>& bench_registry() {
  static std::vector<SetupFn> registry;
  return registry;
}

namespace {

Command setup_bench(CLI::App& parent) {
  auto* sub = parent.add_subcommand("bench", "Benchmarks; each prints ratios to baselines measured in the same run");
  sub->require_subcommand(1);
  auto children = std::make_shared<std::vector<Command>>();
  for (SetupFn setup : bench_registry()) children->push_back(setup(*sub));
  return {sub, [children] {
            for (const Command& c : *children)
              if (c.app->parsed()) return c.run();
            return 2;
          }};
}

}  // namespace
KVMIX_REGISTER_COMMAND(setup_bench);
}  // namespace kvmix::app
