#include "apps/kvmix/option_checks.h"

#include <spdlog/fmt/fmt.h>

#include <filesystem>

#include "apps/kvmix/model_options.h"  // split_list
#include "base/error.h"
#include "lib/io/paths.h"       // same_file, check_regular_file
#include "search/task_data.h"   // parse_task

namespace kvmix::app {

CLI::Validator output_file() {
  return CLI::Validator(
      [](std::string& s) {
        std::error_code ec;
        if (s.empty()) return std::string("the path is empty");
        if (std::filesystem::is_directory(s, ec))
          return fmt::format("{} is a folder; expected a file path", s);
        return std::string();
      },
      "", "output_file");
}

CLI::Validator task_name() {
  return parsed_by(
      [](const std::string& s) {
        const TaskSpec t = parse_task(s, Split::kHeldOut, 1);
        if (!t.data_path.empty()) check_regular_file(t.data_path, "task data file");
      },
      "TASK");
}

std::vector<std::string> required_list(const std::vector<std::string>& items,
                                       const std::string& flag) {
  std::vector<std::string> out = split_list(items);
  if (out.empty()) throw UsageError(flag + ": the list is empty");
  return out;
}

void refuse_output_over_inputs(const std::string& output, const std::string& flag,
                               const std::vector<std::string>& inputs) {
  for (const auto& in : inputs)
    if (same_file(output, in))
      throw UsageError(fmt::format("{} {}: is the input {}; writing it would replace the input",
                                   flag, output, in));
}

}  // namespace kvmix::app
