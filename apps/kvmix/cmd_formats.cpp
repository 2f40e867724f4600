// `kvmix formats`: lists the quantization formats the kernels implement.
#include "apps/kvmix/command.h"
#include "kernels/format_registry.h"

namespace kvmix::app {
namespace {

Command setup_formats(CLI::App& parent) {
  auto* sub = parent.add_subcommand("formats", "List the KV quantization formats and their storage");
  return {sub, [] {
            std::fputs(format_table_text().c_str(), stdout);
            return 0;
          }};
}

}  // namespace
KVMIX_REGISTER_COMMAND(setup_formats);
}  // namespace kvmix::app
