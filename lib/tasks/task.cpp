#include "lib/tasks/task.h"

#include "base/error.h"

namespace kvmix {

const char* split_name(Split s) {
  switch (s) {
    case Split::kTrain: return "train";
    case Split::kCalibration: return "calib";
    case Split::kHeldOut: return "heldout";
  }
  return "?";
}

Split parse_split(const std::string& name) {
  if (name == "train") return Split::kTrain;
  if (name == "calib" || name == "calibration") return Split::kCalibration;
  if (name == "heldout" || name == "held-out" || name == "test") return Split::kHeldOut;
  throw UsageError("unknown split '" + name + "' (expected calib or heldout)");
}

}  // namespace kvmix
