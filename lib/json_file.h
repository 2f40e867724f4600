#pragma once
// Reads a whole JSON file. A missing file or malformed JSON is a kvmix::Error that names the path,
// the one message every config, front, sensitivity and index reader gives.
#include <nlohmann/json.hpp>

#include <string>

namespace kvmix {

nlohmann::json read_json_file(const std::string& path);

}  // namespace kvmix
