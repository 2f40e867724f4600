#include "lib/io/json_file.h"

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <filesystem>

#include "lib/io/atomic_file.h"
#include "base/error.h"

namespace kvmix {

nlohmann::json read_json_file(const std::string& path) {
  const std::string text = read_file(path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: not valid JSON: {}", path, e.what()));
  }
}

std::vector<JsonLine> read_json_lines_for_append(const std::string& path) {
  std::vector<JsonLine> out;
  if (!std::filesystem::exists(path)) return out;
  const std::string text = read_file(path);
  int64_t lineno = 0;
  size_t pos = 0, good_end = 0;  // good_end: just past the last line kept
  bool torn = false;
  while (pos < text.size()) {
    const size_t nl = text.find('\n', pos);
    const size_t next = nl == std::string::npos ? text.size() : nl + 1;
    const std::string line = text.substr(pos, (nl == std::string::npos ? text.size() : nl) - pos);
    pos = next;
    ++lineno;
    if (line.find_first_not_of(" \t\r") == std::string::npos) {
      good_end = next;
      continue;
    }
    try {
      out.push_back({lineno, nlohmann::json::parse(line)});
      good_end = next;
    } catch (const nlohmann::json::exception&) {
      KVMIX_CHECK(next >= text.size(), "{}:{}: corrupt journal line (only the last line can be "
                  "torn by an interrupted write)", path, lineno);
      spdlog::warn("{}:{}: dropping a torn last line (an interrupted write); its work is done "
                   "again", path, lineno);
      torn = true;
    }
  }
  if (torn)
    std::filesystem::resize_file(path, good_end);
  else if (!text.empty() && text.back() != '\n')
    append_line_synced(path, "");
  return out;
}

}  // namespace kvmix
