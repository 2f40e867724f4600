#include "lib/json_file.h"

#include <spdlog/fmt/fmt.h>

#include "lib/atomic_file.h"
#include "lib/error.h"

namespace kvmix {

nlohmann::json read_json_file(const std::string& path) {
  const std::string text = read_file(path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: not valid JSON: {}", path, e.what()));
  }
}

}  // namespace kvmix
