#pragma once
// config.json's torch_dtype names <-> at::ScalarType, for the three float dtypes kvmix computes
// and stores in.
#include <c10/core/ScalarType.h>

#include <string>

#include "base/error.h"

namespace kvmix {

inline at::ScalarType torch_dtype_scalar_type(const std::string& name) {
  if (name == "float32") return at::kFloat;
  if (name == "bfloat16") return at::kBFloat16;
  if (name == "float16") return at::kHalf;
  throw Error(fmt::format("torch_dtype '{}' is not supported (float32, bfloat16, float16)", name));
}

inline std::string torch_dtype_name(at::ScalarType t) {
  switch (t) {
    case at::kFloat:
      return "float32";
    case at::kBFloat16:
      return "bfloat16";
    case at::kHalf:
      return "float16";
    default:
      throw Error(
          fmt::format("dtype {} is not supported (float32, bfloat16, float16)", c10::toString(t)));
  }
}

}  // namespace kvmix
