#pragma once
// The study a policy-journal input is opened for, shared by the fuzz target and the test build's
// replay of its corpus: a fixed model identity and the built-in model's fp16 bytes per token.
#include <nlohmann/json.hpp>

namespace kvmix::fuzz {

inline constexpr double kPolicyFp16BytesPerToken = 2048;  // 8 layers x 2 x 2 heads x 32 x 2 bytes

inline const nlohmann::json& policy_study_identity() {
  static const nlohmann::json id = {{"model",
                                     {{"path", "builtin"},
                                      {"config_hash", "80ddbb7c485f773e"},
                                      {"dtype", "float"},
                                      {"weights", "0123456789abcdef"}}}};
  return id;
}

}  // namespace kvmix::fuzz
