#pragma once
// A task materialized as token ids: what every evaluation (eval, profile, search, policies)
// consumes. Built once per run from a TaskSpec and a tokenizer.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "lib/tasks/arith.h"
#include "lib/tasks/recall.h"
#include "lib/tasks/task.h"
#include "lib/tokenizer/tokenizer.h"

namespace kvmix {

enum class TaskKind { kText, kArith, kRecall, kUserText, kUserPrompts };

// How a generated answer is compared with the expected one.
enum class AnswerScoring {
  kExact,       // the first generated line, trimmed, equals the answer
  kLastNumber,  // the number after "####", else the last number (GSM8K)
};

struct TaskSpec {
  TaskKind kind = TaskKind::kArith;
  std::string name = "arith";
  Split split = Split::kHeldOut;
  int64_t samples = 64;          // problems, or text windows
  std::string data_path;         // user data (.txt or .jsonl)
  AnswerScoring scoring = AnswerScoring::kLastNumber;
  ArithOptions arith;
  RecallOptions recall;
  int64_t text_window = 512;     // tokens per perplexity window
  int64_t text_context = 256;    // of which the first this many are context, the rest scored
  int64_t max_new_tokens = 256;  // generation budget
};

// "text", "arith", "recall", or a path ending in .txt / .jsonl (user data). UsageError otherwise.
TaskSpec parse_task(const std::string& name_or_path, Split split, int64_t samples);

struct TaskData {
  std::string name;
  bool generative = false;  // scored by generation (arith, recall, jsonl) or by perplexity
  AnswerScoring scoring = AnswerScoring::kExact;
  int64_t max_new_tokens = 0;
  std::vector<std::vector<int64_t>> prompts;        // with BOS when the tokenizer adds one
  std::vector<std::vector<int64_t>> continuations;  // teacher-forced targets (text: the scored part)
  std::vector<std::string> answers;                 // generative: the expected answer
};

// Materializes the samples. Errors name the data file and line for bad user data.
TaskData prepare_task(const TaskSpec& spec, const Tokenizer& tok);

// Does a generated continuation answer correctly?
bool answer_correct(const std::string& generated, const std::string& answer, AnswerScoring s);

// "exact" or "last_number": how files that carry samples to other engines name the scoring.
const char* scoring_name(AnswerScoring s);

// A materialized task as JSON, token ids and all: how work items (search/team_work.h) carry their
// samples to other ranks, which then need neither the task files nor the tokenizer's encoder.
// The reader checks every field, naming `where`.
nlohmann::json task_data_to_json(const TaskData& d);
TaskData task_data_from_json(const nlohmann::json& j, const std::string& where);

}  // namespace kvmix
