#include "lib/tasks/recall.h"

#include <set>

namespace kvmix {

std::string recall_line(const RecallLine& l) { return l.key + ": " + l.value + "\n"; }

// The answer line restates the key with the lines' own separator, so the position that must
// produce the value reads exactly like the position before the value in the asked line: retrieval
// is then the copy-what-followed-last-time operation (an induction head) that small models learn
// early, and what it depends on, the asked line's tokens, is what eviction drops.
std::string recall_question(const std::string& key) { return "Q: " + key + "?\nA: " + key + ":"; }

std::vector<RecallLine> make_recall_lines(Rng& rng, int64_t bytes) {
  std::vector<RecallLine> lines;
  std::set<std::string> used;
  int64_t size = 0;
  const int64_t line_bytes = 11;  // "abcd: 1234\n"
  while (size + line_bytes <= bytes || lines.empty()) {
    std::string key(4, 'a');
    do {
      for (auto& ch : key) ch = static_cast<char>('a' + rng.uniform(26));
    } while (!used.insert(key).second);
    lines.push_back({key, std::to_string(rng.range(1000, 9999))});
    size += line_bytes;
  }
  return lines;
}

RecallProblem make_recall_problem(Rng& rng, int64_t prompt_bytes) {
  RecallProblem p;
  const int64_t fixed = static_cast<int64_t>(std::string(kRecallHeader).size() +
                                             recall_question("abcd").size());
  p.lines = make_recall_lines(rng, prompt_bytes - fixed);
  p.asked = rng.uniform(p.lines.size());
  std::string prompt = kRecallHeader;
  for (const auto& l : p.lines) prompt += recall_line(l);
  prompt += recall_question(p.lines[p.asked].key);
  p.text.prompt = std::move(prompt);
  p.text.answer = p.lines[p.asked].value;
  p.text.target = " " + p.text.answer + "\n";
  return p;
}

RecallProblem make_recall_problem(Split split, uint64_t index, const RecallOptions& opt) {
  Rng rng = Rng::from(fnv1a64("recall"), split_seed_base(split) + index);
  const int64_t bytes = rng.range(opt.min_prompt_bytes, opt.max_prompt_bytes);
  return make_recall_problem(rng, bytes);
}

}  // namespace kvmix
