#pragma once
// A JSON value as it appears in an error message: scalars verbatim (long strings cut), arrays and
// objects by kind and size. Never dump() a container of untrusted input here: dump() recurses
// once per nesting level and can print megabytes.
#include <nlohmann/json.hpp>
#include <string>

namespace kvmix {

// Longest string value quoted in an error message, in bytes; enough for any real field value.
constexpr size_t kJsonDescribeMaxChars = 64;

inline std::string describe_json(const nlohmann::json& v) {
  if (v.is_array()) return "an array of " + std::to_string(v.size());
  if (v.is_object()) return "an object of " + std::to_string(v.size()) + " keys";
  if (v.is_string() && v.get_ref<const std::string&>().size() > kJsonDescribeMaxChars)
    return nlohmann::json(v.get_ref<const std::string&>().substr(0, kJsonDescribeMaxChars))
               .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
           "...";
  return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace kvmix
