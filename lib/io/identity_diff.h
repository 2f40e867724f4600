#pragma once
// What changed between two identities of a run (JSON objects of the options and inputs a stored
// result depends on): the text an error shows when a rerun would otherwise reuse results computed
// for other options, naming each key that differs with its old and new value.
#include <nlohmann/json.hpp>

#include <string>

namespace kvmix {

// "pairs: was [...], now [...]; dtype: was "fp32", now "bf16"". Empty when equal. Keys present on
// one side only are listed as missing there. Both sides may be untrusted: values are shown through
// describe_json (lib/io/json_describe.h), so a huge value never floods the message.
std::string identity_changes(const nlohmann::json& was, const nlohmann::json& now);

}  // namespace kvmix
