// libFuzzer target: the search journal's reader (the Journal constructor over
// read_json_lines_for_append) on arbitrary bytes, written to a file and opened as a resumed
// search opens it; the run and its space are fixed (fuzz_journal_space.h). A journal of another
// run, a damaged line or a trial outside the space must be refused with a kvmix::Error; a crash, a
// sanitizer report or another exception escaping is a bug. A journal that opens must hold trials
// the search can trust (ids 0, 1, ..., pairs in range, bytes recomputed, finite KL >= 0, no
// configuration twice), must open again to the same trials after the reader's repair of a torn
// last line, and must take an appended trial that the next open reads back.
// Crashes go to tests/fuzz/regressions/journal/.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <set>

#include "base/error.h"
#include "search/journal.h"
#include "tests/fuzz/fuzz_input_file.h"
#include "tests/fuzz/fuzz_journal_space.h"
#include "tests/fuzz/fuzz_refused.h"

namespace {

bool same_trials(const std::vector<kvmix::Trial>& a, const std::vector<kvmix::Trial>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].id != b[i].id || a[i].layer_pairs != b[i].layer_pairs || a[i].kl != b[i].kl ||
        a[i].bytes_per_token != b[i].bytes_per_token || a[i].origin != b[i].origin)
      return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kvmix;
  const std::string bytes = fuzz::journal_bytes(data, size);
  const std::string path = fuzz::write_input_file(
      "journal.jsonl", reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  const TrialSpace space = fuzz::journal_space();
  std::vector<Trial> trials;
  try {
    trials = Journal(path, fuzz::journal_header(), space).trials();
  } catch (const Error& e) {
    return fuzz::refused(e);
  }
  std::set<std::vector<size_t>> seen;
  for (size_t i = 0; i < trials.size(); ++i) {
    const Trial& t = trials[i];
    KVMIX_ASSERT(t.id == static_cast<int64_t>(i), "trial {} has id {}", i, t.id);
    KVMIX_ASSERT(t.layer_pairs.size() == space.layer_pair_bytes.size(), "trial {}: {} layers", i,
                 t.layer_pairs.size());
    double bytes_per_token = 0;
    for (size_t l = 0; l < t.layer_pairs.size(); ++l) {
      KVMIX_ASSERT(t.layer_pairs[l] < space.layer_pair_bytes[l].size(), "trial {}: pair {}", i,
                   t.layer_pairs[l]);
      bytes_per_token += space.layer_pair_bytes[l][t.layer_pairs[l]];
    }
    KVMIX_ASSERT(t.bytes_per_token == bytes_per_token, "trial {}: bytes {} for {}", i,
                 t.bytes_per_token, bytes_per_token);
    KVMIX_ASSERT(std::isfinite(t.kl) && t.kl >= 0, "trial {}: KL {}", i, t.kl);
    KVMIX_ASSERT(seen.insert(t.layer_pairs).second, "trial {} repeats a configuration", i);
  }
  // The first open repaired a torn last line (or added a missing newline): reading again gives
  // the same trials, and a trial appended now is read back after them.
  Journal again(path, fuzz::journal_header(), space);
  KVMIX_ASSERT(same_trials(again.trials(), trials), "journal read differently the second time");
  if (seen.size() < 64) {
    Trial t;
    for (size_t c = 0; c < 64; ++c) {
      std::vector<size_t> lp = {c % 4, c / 4 % 4, c / 16};
      if (seen.count(lp)) continue;
      t.layer_pairs = lp;
      break;
    }
    for (size_t l = 0; l < 3; ++l) t.bytes_per_token += space.layer_pair_bytes[l][t.layer_pairs[l]];
    t.kl = 0.125;
    t.origin = "random";
    again.append(t);
    const Journal third(path, fuzz::journal_header(), space);
    KVMIX_ASSERT(third.trials().size() == trials.size() + 1 &&
                     third.trials().back().layer_pairs == t.layer_pairs,
                 "an appended trial was not read back");
  }
  return 0;
}
