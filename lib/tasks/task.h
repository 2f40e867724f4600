#pragma once
// Built-in tasks: generated or read samples with a calibration split and a held-out split that
// never overlap (different seeds, or different documents), plus the training stream the built-in
// model was trained on (a third seed range / the remaining documents).
#include <cstdint>
#include <string>

namespace kvmix {

enum class Split { kTrain, kCalibration, kHeldOut };

const char* split_name(Split s);
Split parse_split(const std::string& name);  // "train", "calib", "heldout"; UsageError otherwise

// Seed bases: sample i of split s of a generated task uses Rng::from(task_seed, split_base + i).
// The ranges are far apart so no two splits ever draw the same stream.
inline uint64_t split_seed_base(Split s) {
  switch (s) {
    case Split::kTrain: return 1ULL << 40;
    case Split::kCalibration: return 1ULL << 20;
    case Split::kHeldOut: return 2ULL << 20;
  }
  return 0;
}

// A prompt and the exact text the model should produce after it.
struct PromptAnswer {
  std::string prompt;
  std::string answer;  // what is scored (arith: the final number; recall: the value)
  std::string target;  // the full continuation used for training (worked steps for arith)
};

}  // namespace kvmix
