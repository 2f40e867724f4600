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
#include "lib/process/team.h"
#include "base/error.h"

namespace kvmix::app {

std::vector<SetupFn>& command_registry() {
  static std::vector<SetupFn> registry;
  return registry;
}

namespace {

// Prints an error on rank 0 (every rank parses the same command line, so only rank 0 speaks for
// the options); another rank's own failure is printed with its rank.
void print_error(const char* kind, const char* what, bool all_ranks) {
  const int rank = kvmix::team().rank;
  if (rank == 0)
    std::fprintf(stderr, "kvmix: %s: %s\n", kind, what);
  else if (all_ranks)
    std::fprintf(stderr, "kvmix (rank %d): %s: %s\n", rank, kind, what);
}

// The exit status of a run that failed. Several ranks stop together: MPI_Abort ends the others,
// which may be waiting for a message of the rank that failed.
int fail(int code) {
  if (kvmix::team().size > 1) kvmix::abort_team(code);
  kvmix::leave_team();
  return code;
}

int run_command(const kvmix::app::Command& c) {
  using namespace kvmix;
  if (team().size > 1 && !c.team)
    throw UsageError(fmt::format("kvmix {} runs as one process; start it without mpirun (the commands that share "
                                 "their work over MPI ranks: profile, search, eval, policies, tune)",
                                 c.app->get_name()));
  const int code = c.run();
  if (team().rank == 0) release_team();
  leave_team();
  return code;
}

}  // namespace

}  // namespace kvmix::app

int main(int argc, char** argv) {
  using namespace kvmix;
  try {
    join_team(&argc, &argv);
  } catch (const Error& e) {
    std::fprintf(stderr, "kvmix: error: %s\n", e.what());
    return 1;
  }
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
    // Every rank parsed the same line: rank 0 prints, all leave together.
    const int code = team().rank == 0 ? cli.exit(e) : (e.get_exit_code() == 0 ? 0 : 2);
    leave_team();
    return code == 0 ? 0 : 2;
  }

  auto logger = spdlog::stderr_color_mt("kvmix");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("[%H:%M:%S] %^%l%$ %v");
  // The other ranks of an MPI job only compute: their progress would repeat rank 0's.
  spdlog::set_level(quiet || team().rank > 0 ? spdlog::level::warn
                    : verbosity >= 2    ? spdlog::level::trace
                    : verbosity == 1    ? spdlog::level::debug
                                        : spdlog::level::info);
  using app::fail;
  using app::print_error;
  try {
    for (auto& c : commands)
      if (c.app->parsed()) return app::run_command(c);
    return fail(2);
  } catch (const Interrupted& e) {
    print_error("interrupted", e.what(), false);
    return fail(130);
  } catch (const UsageError& e) {
    print_error("usage error", e.what(), false);
    return fail(2);
  } catch (const Error& e) {
    print_error("error", e.what(), true);
    return fail(1);
  } catch (const c10::Error& e) {
    print_error("error", e.what_without_backtrace(), true);
    return fail(1);
  } catch (const std::exception& e) {
    print_error("error", e.what(), true);
    return fail(1);
  }
}
