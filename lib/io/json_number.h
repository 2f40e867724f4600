#pragma once
// Numbers read from input files, which are untrusted (DESIGN.md, "Errors"). An integer field must
// be a JSON integer (not 1e9, not 2.5, not "8") within its bounds, a real field a finite number
// within its bounds, before any arithmetic or allocation uses it: nlohmann's get<int64_t>() turns
// 2^70 into a negative count and 1e9 into a billion samples without a word. Errors name `where`,
// the file and the field, then what was expected and what was found.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace kvmix {

// An integer in [lo, hi].
int64_t json_integer(const nlohmann::json& v, int64_t lo, int64_t hi, const std::string& where);

// Any non-negative 64-bit integer (seeds).
uint64_t json_unsigned(const nlohmann::json& v, const std::string& where);

// A finite number in [lo, hi].
double json_number(const nlohmann::json& v, double lo, double hi, const std::string& where);

// A string (a name or label).
std::string json_string(const nlohmann::json& v, const std::string& where);

// Whether a figure read from a file is the `expected` one recomputed from what it depends on, up
// to the rounding of writing, reading and summing it in another order: a relative 1e-9, far below
// any real disagreement (one byte in a gigabyte).
bool same_up_to_rounding(double stored, double expected);

}  // namespace kvmix
