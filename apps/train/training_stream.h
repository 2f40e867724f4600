#pragma once
// The built-in model's training data: a deterministic stream of fixed-length rows mixing the
// Brown corpus's training documents with generated arith and recall samples from the training
// seed range (never the calibration or held-out ranges). Row r of step s depends only on
// (seed, s, r), so a resumed run sees exactly the rows it would have seen.
#include <cstdint>
#include <string>
#include <vector>

#include "lib/rng.h"
#include "lib/tasks/corpus.h"

namespace kvmix::builtin {

struct MixWeights {
  double text = 0.25;
  double arith = 0.35;
  double recall = 0.40;
};

// tokens has seq_len + 1 ids: inputs are [0, seq_len), targets [1, seq_len]. loss[i] weights the
// prediction of tokens[i + 1].
struct TrainingRow {
  std::vector<int64_t> tokens;
  std::vector<float> loss;
  int kind = 0;  // 0 text, 1 arith, 2 recall
};

class TrainingStream {
 public:
  TrainingStream(std::vector<Document> train_docs, MixWeights mix, uint64_t seed);
  TrainingRow row(uint64_t step, uint64_t index, int64_t seq_len) const;

 private:
  TrainingRow text_row(Rng& rng, int64_t seq_len) const;
  std::vector<Document> docs_;
  std::vector<size_t> cumulative_;  // cumulative bytes for length-weighted document choice
  MixWeights mix_;
  uint64_t seed_;
};

}  // namespace kvmix::builtin
