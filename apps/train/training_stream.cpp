#include "apps/train/training_stream.h"

#include <algorithm>

#include "apps/train/builtin_vocab.h"
#include "base/error.h"
#include "lib/rng.h"
#include "lib/tasks/arith.h"
#include "lib/tasks/recall.h"

namespace kvmix::builtin {

TrainingStream::TrainingStream(std::vector<Document> docs, MixWeights mix, uint64_t seed)
    : docs_(std::move(docs)), mix_(mix), seed_(seed) {
  KVMIX_CHECK(!docs_.empty(), "training stream: no training documents");
  size_t total = 0;
  for (const auto& d : docs_) cumulative_.push_back(total += d.text.size());
}

namespace {

void push(TrainingRow& r, const std::string& s, float w) {
  for (unsigned char c : s) {
    r.tokens.push_back(c);
    r.loss.push_back(w);
  }
}

// Makes tokens exactly n + 1 long (padding is never a target: weight 0) and aligns the weights:
// loss[i] then weights the prediction of tokens[i + 1], i.e. the weight pushed with tokens[i + 1].
void finish(TrainingRow& r, int64_t n) {
  const size_t len = static_cast<size_t>(n + 1);
  if (r.tokens.size() > len) r.tokens.resize(len), r.loss.resize(len);
  while (r.tokens.size() < len) r.tokens.push_back(kPad), r.loss.push_back(0.0f);
  r.loss.erase(r.loss.begin());  // weights were pushed with the token they make a target of
}

}  // namespace

TrainingRow TrainingStream::text_row(Rng& rng, int64_t n) const {
  TrainingRow r;
  r.kind = 0;
  r.tokens.push_back(kBos);
  r.loss.push_back(0.0f);
  const size_t pick = rng.uniform(cumulative_.back());
  const size_t d = static_cast<size_t>(
      std::upper_bound(cumulative_.begin(), cumulative_.end(), pick) - cumulative_.begin());
  const std::string& text = docs_[std::min(d, docs_.size() - 1)].text;
  size_t start = text.size() > static_cast<size_t>(n) ? rng.uniform(text.size() - n) : 0;
  // Start at a word boundary: the model should not learn to predict from half a word.
  while (start > 0 && start < text.size() && text[start - 1] != ' ') ++start;
  push(r, text.substr(start, static_cast<size_t>(n)), 1.0f);
  return r;
}

TrainingRow TrainingStream::row(uint64_t step, uint64_t index, int64_t n) const {
  Rng rng = Rng::from(seed_, step, index);
  const double u = rng.unit() * (mix_.text + mix_.arith + mix_.recall);
  TrainingRow r;
  if (u < mix_.text) {
    r = text_row(rng, n);
  } else if (u < mix_.text + mix_.arith) {
    // Whole problems back to back; the worked answers are the targets, the random numbers of the
    // questions are not (they cannot be predicted).
    r.kind = 1;
    r.tokens.push_back(kBos);
    r.loss.push_back(0.0f);
    while (static_cast<int64_t>(r.tokens.size()) <= n) {
      const ArithProblem p = make_arith_problem(rng);
      push(r, p.text.prompt, 0.0f);
      push(r, p.text.target, 1.0f);
    }
  } else {
    // Lines over 40-65% of the row, then, until the row is full, questions about random lines
    // and the same lines restated in random order. Every byte after a key's first letter can be
    // read off the matching line above (its key letters, then its value), so restated lines give
    // the copy-what-followed-last-time mechanism (an induction head) four times the signal of the
    // questions alone; the first letter of each key picks the line and is never a target.
    r.kind = 2;
    r.tokens.push_back(kBos);
    r.loss.push_back(0.0f);
    const int64_t line_bytes = std::max<int64_t>(
        22, static_cast<int64_t>(static_cast<double>(n) * (0.4 + 0.25 * rng.unit())));
    const auto lines = make_recall_lines(rng, line_bytes);
    push(r, kRecallHeader, 0.0f);
    for (const auto& l : lines) push(r, recall_line(l), 0.0f);
    while (static_cast<int64_t>(r.tokens.size()) <= n) {
      const auto& l = lines[rng.uniform(lines.size())];
      const bool question = rng.unit() < 0.5;
      push(r, question ? "Q: " + l.key.substr(0, 1) : l.key.substr(0, 1), 0.0f);
      push(r, question ? l.key.substr(1) + "?\nA: " + l.key + ":" : l.key.substr(1) + ":", 1.0f);
      push(r, " " + l.value + "\n", 1.0f);
    }
  }
  finish(r, n);
  return r;
}

}  // namespace kvmix::builtin
