// The kvmix command line: global flags, the registered subcommands, and the mapping of errors to
// exit statuses (0 ok, 1 failure, 2 usage error).
#include <c10/util/Exception.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>

#include "apps/kvmix/command.h"
#include "kvmix_version.h"
#include "lib/process/allocator_tuning.h"
#include "base/error.h"

namespace kvmix::app {

std::vector<SetupFn>& command_registry() {
  static std::vector<SetupFn> registry;
  return registry;
}

}  // namespace kvmix::app

int main(int argc, char** argv) {
  using namespace kvmix;
  kvmix::keep_freed_memory_for_reuse();
  // Past a file size limit (ulimit -f) write() then fails with EFBIG, which the atomic writers
  // report and clean up after; by default SIGXFSZ would kill kvmix mid-write and leave the
  // temporary file behind.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App cli{
      "kvmix: calibrate, search and export per-layer KV-cache precision for decoder LLMs",
      "kvmix"};
  cli.set_version_flag("--version", std::string("kvmix ") + KVMIX_VERSION);
  cli.require_subcommand(1);
  cli.fallthrough();
  int verbosity = 0;
  bool quiet = false;
  cli.add_flag("-v,--verbose", verbosity, "More log output (-v debug, -vv trace)");
  cli.add_flag("-q,--quiet", quiet, "Only warnings and errors");

  std::vector<app::Command> commands;
  for (auto setup : app::command_registry()) commands.push_back(setup(cli));

  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = cli.exit(e);
    return code == 0 ? 0 : 2;
  }

  auto logger = spdlog::stderr_color_mt("kvmix");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("[%H:%M:%S] %^%l%$ %v");
  spdlog::set_level(quiet               ? spdlog::level::warn
                    : verbosity >= 2    ? spdlog::level::trace
                    : verbosity == 1    ? spdlog::level::debug
                                        : spdlog::level::info);
  try {
    for (auto& c : commands)
      if (c.app->parsed()) return c.run();
    return 2;
  } catch (const Interrupted& e) {
    std::fprintf(stderr, "kvmix: interrupted: %s\n", e.what());
    return 130;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "kvmix: usage error: %s\n", e.what());
    return 2;
  } catch (const Error& e) {
    std::fprintf(stderr, "kvmix: error: %s\n", e.what());
    return 1;
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "kvmix: error: %s\n", e.what_without_backtrace());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kvmix: error: %s\n", e.what());
    return 1;
  }
}
