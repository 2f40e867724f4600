#pragma once
// The header every kvmix state file opens with ({"schema": "kvmix.x", "version": 1} or a journal's
// first line). Files from elsewhere are untrusted: a header of the wrong type (a number where the
// schema name goes) or a version of 1.5 is an error naming the file, never a raw JSON type error
// and never read as version 1.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace kvmix {

// Throws kvmix::Error naming `path` unless `j` is an object whose string field `field` is `schema`
// and whose field "version" is the integer `version`. `what` says what the file should be, for the
// message ("a kvmix tune run record").
void check_json_header(const nlohmann::json& j, const std::string& field, const std::string& schema,
                       int64_t version, const std::string& path, const std::string& what);

}  // namespace kvmix
