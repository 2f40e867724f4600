#pragma once
// JSON Schema (draft 7) validation with valijson: kvmix's own file formats are checked against
// their schema files on read and on write.
#include <nlohmann/json.hpp>

#include <string>

namespace kvmix {

// Throws kvmix::Error naming `source`, the JSON path of each violation (up to a few) and why.
void validate_against_schema(const nlohmann::json& doc, const char* schema_json,
                             const std::string& source);

}  // namespace kvmix
