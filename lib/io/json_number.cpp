#include "lib/io/json_number.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "base/error.h"
#include "lib/io/json_describe.h"

namespace kvmix {

int64_t json_integer(const nlohmann::json& v, int64_t lo, int64_t hi, const std::string& where) {
  // An unsigned JSON integer above 2^63 - 1 does not fit int64_t: out of any bound here.
  const bool fits = v.is_number_integer() &&
                    (!v.is_number_unsigned() ||
                     v.get<uint64_t>() <= uint64_t{std::numeric_limits<int64_t>::max()});
  KVMIX_CHECK(fits && v.get<int64_t>() >= lo && v.get<int64_t>() <= hi,
              "{} must be an integer in [{}, {}], got {}", where, lo, hi, describe_json(v));
  return v.get<int64_t>();
}

uint64_t json_unsigned(const nlohmann::json& v, const std::string& where) {
  KVMIX_CHECK(v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0),
              "{} must be a non-negative integer, got {}", where, describe_json(v));
  return v.get<uint64_t>();
}

double json_number(const nlohmann::json& v, double lo, double hi, const std::string& where) {
  KVMIX_CHECK(v.is_number() && std::isfinite(v.get<double>()) && v.get<double>() >= lo &&
                  v.get<double>() <= hi,
              "{} must be a finite number in [{}, {}], got {}", where, lo, hi, describe_json(v));
  return v.get<double>();
}

std::string json_string(const nlohmann::json& v, const std::string& where) {
  KVMIX_CHECK(v.is_string(), "{} must be a string, got {}", where, describe_json(v));
  return v.get<std::string>();
}

bool same_up_to_rounding(double stored, double expected) {
  return std::isfinite(stored) &&
         std::abs(stored - expected) <= 1e-9 * std::max(1.0, std::abs(expected));
}

}  // namespace kvmix
