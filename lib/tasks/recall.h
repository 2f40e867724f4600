#pragma once
// `recall`: long-context key-value retrieval (the line-retrieval analogue). Many "key: value"
// lines fill the context, then one key is asked for; exact match of the value. A token that an
// eviction policy drops is lost for good, one kept at low precision may still be read, so this
// task separates eviction from quantized retention.
//
//   Remember the codes.
//   bxqe: 4821
//   ...
//   Q: bxqe?
//   A: bxqe: 4821
// Keys are 4 random lowercase letters (unique within a sample), values 4-digit numbers.
#include <cstdint>
#include <string>
#include <vector>

#include "lib/rng.h"
#include "lib/tasks/task.h"

namespace kvmix {

struct RecallOptions {
  int64_t min_prompt_bytes = 512;   // the prompt (lines + question) fills this many bytes...
  int64_t max_prompt_bytes = 1000;  // ...up to this many (the built-in model reads bytes as tokens)
};

struct RecallLine {
  std::string key;
  std::string value;
};

struct RecallProblem {
  PromptAnswer text;  // prompt ends with "A: <key>:"; target " <value>\n"; answer "<value>"
  std::vector<RecallLine> lines;
  size_t asked = 0;  // index of the asked line
};

RecallProblem make_recall_problem(Split split, uint64_t index, const RecallOptions& opt = {});
RecallProblem make_recall_problem(Rng& rng, int64_t prompt_bytes);

// The header line, one "key: value" line, and the question for a key.
inline constexpr const char* kRecallHeader = "Remember the codes.\n";
std::string recall_line(const RecallLine& l);
std::string recall_question(const std::string& key);

// Lines with unique keys filling about `bytes` bytes.
std::vector<RecallLine> make_recall_lines(Rng& rng, int64_t bytes);

}  // namespace kvmix
