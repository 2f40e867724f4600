#pragma once
// The search journal: every full evaluation is appended as one JSON line and fsynced before the
// search goes on, so a killed job loses at most the evaluation in flight. The same command run
// again replays the journal instead of re-evaluating (the search is deterministic for its seed, so
// it walks the same path and continues where it stopped).
//
// Line 1 is a header naming the run (method, scheme, pairs, model, objective); a journal whose
// header differs belongs to another run and is refused rather than silently mixed in.
#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace kvmix {

struct Trial {
  int64_t id = 0;
  std::vector<size_t> layer_pairs;  // pair index per layer
  double bytes_per_token = 0;
  double kl = 0;                    // the real objective (calibration KL)
  std::string origin;               // "proxy-seed", "nsga2", "random", ...
  double seconds = 0;
};

class Journal {
 public:
  // Opens (creating when missing) the journal at path for the run described by `header`.
  Journal(std::string path, nlohmann::json header);
  const Trial* find(const std::vector<size_t>& layer_pairs) const;
  void append(Trial t);  // assigns t.id
  const std::vector<Trial>& trials() const { return trials_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::vector<Trial> trials_;
  std::map<std::vector<size_t>, size_t> index_;
};

}  // namespace kvmix
