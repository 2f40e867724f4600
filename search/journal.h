#pragma once
// The search journal: every full evaluation is appended as one JSON line and fsynced before the
// search goes on, so a killed job loses at most the evaluation in flight. The same command run
// again replays the journal instead of re-evaluating (the search is deterministic for its seed, so
// it walks the same path and continues where it stopped).
//
// Line 1 is a header naming the run (method, scheme, pairs, model, objective); a journal whose
// header differs belongs to another run and is refused rather than silently mixed in. Every trial
// read back is checked against the space it was searched in (TrialSpace): a hand-edited trial
// with a negative KL or zero bytes would otherwise become the front's best point and the exported
// config.
#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

#include "search/sensitivity.h"

namespace kvmix {

struct Trial {
  int64_t id = 0;
  std::vector<size_t> layer_pairs;  // pair index per layer
  double bytes_per_token = 0;
  double kl = 0;                    // the real objective (calibration KL)
  std::string origin;               // "proxy-seed", "nsga2", "random", ...
  double seconds = 0;
};

// What a trial read back must agree with: one pair index per layer, each below the number of
// pairs, and bytes per token equal to the sum of its layers' bytes under their pairs.
struct TrialSpace {
  std::vector<std::vector<double>> layer_pair_bytes;  // [layer][pair] true bytes per token
};

// The space of a search over a profile: its cells' bytes (recomputed from the pairs and the shape
// when a sensitivity file is read, search/sensitivity.h).
TrialSpace trial_space(const Sensitivity& s);

// What a trial's origin may be: seeds from the proxy front and the corrected proxy's picks (kvmix),
// the random population and NSGA-II's offspring (kvtuner), the enumeration of the whole space
// (search/exhaustive.h) and configurations an external optimizer asked for (search/ask_tell.h).
bool known_trial_origin(const std::string& origin);

class Journal {
 public:
  // Opens (creating when missing) the journal at path for the run described by `header`. Every
  // trial read back must fit `space` and carry the next id (0, 1, ...), a finite KL >= 0, a known
  // origin and a configuration not seen before; otherwise a kvmix::Error names the file, the line
  // and the field.
  Journal(std::string path, nlohmann::json header, TrialSpace space);
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
