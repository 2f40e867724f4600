#pragma once
// `arith`: multi-step arithmetic word problems with worked steps, scored by exact match of the
// final answer after greedy decoding (the GSM8K analogue: an early mistake compounds, so the task
// is sensitive to errors that accumulate over decode steps).
//
// A problem chains 2 or 3 operations on a running count (add a 2-digit number, subtract at most
// the count, multiply by 2..5 at most once), every intermediate value in [0, 999]. The worked
// answer writes each operation digit by digit, least significant first, with carries (+1) and
// borrows (a leading 1 on the digit, -1 on the next) spelled out, then the result:
//   Q: Ann has 47 apples. She buys 38 more. She gives away 19. How many apples does Ann have now?
//   A: 47+38: 7+8=15, 4+3+1=8, so 85. 85-19: 15-9=6, 8-1-1=6, so 66. #### 66
#include <cstdint>
#include <string>

#include "lib/rng.h"
#include "lib/tasks/task.h"

namespace kvmix {

struct ArithOptions {
  int min_ops = 2;
  int max_ops = 3;
};

struct ArithProblem {
  PromptAnswer text;  // prompt ends with "\nA:"; target is " <steps> #### <n>\n"; answer "<n>"
  int64_t result = 0;
  int ops = 0;
};

// Sample `index` of `split` (deterministic).
ArithProblem make_arith_problem(Split split, uint64_t index, const ArithOptions& opt = {});
// The same from an explicit random stream (the trainer's).
ArithProblem make_arith_problem(Rng& rng, const ArithOptions& opt = {});

// Worked steps of one operation, e.g. "47+38: 7+8=15, 4+3+1=8, so 85."
std::string worked_add(int64_t a, int64_t b);
std::string worked_sub(int64_t a, int64_t b);  // a >= b
std::string worked_mul(int64_t a, int64_t d);  // 0 <= d <= 9

// The final answer of a generated continuation: the number after the last "####", or, when
// there is none, the last number in the text (GSM8K's scoring rule). Empty when there is none.
std::string extract_final_number(const std::string& generated);

}  // namespace kvmix
