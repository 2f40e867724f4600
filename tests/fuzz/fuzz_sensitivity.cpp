// libFuzzer target: load_sensitivity (sensitivity.json, the profile every later stage reads) on
// arbitrary bytes, read from a file as `kvmix search` reads it. A bad file must be refused with a
// kvmix::Error; a crash, a sanitizer report or another exception escaping is a bug. A profile
// that loads must be one the rest of kvmix can use: every cell finite and non-negative, one row per
// layer and one cell per pair, and sensitivity_to_json must give a file that loads back to the
// same profile (what save_sensitivity relies on). Crashes go to
// tests/fuzz/regressions/sensitivity/.
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "base/error.h"
#include "search/sensitivity.h"
#include "tests/fuzz/fuzz_input_file.h"
#include "tests/fuzz/fuzz_refused.h"

namespace {

bool usable(double x) { return std::isfinite(x) && x >= 0; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kvmix;
  const std::string path = fuzz::write_input_file("sensitivity.json", data, size);
  Sensitivity s;
  try {
    s = load_sensitivity(path);
  } catch (const Error& e) {
    return fuzz::refused(e);
  }
  KVMIX_ASSERT(static_cast<int64_t>(s.cells.size()) == s.model.layers, "{} rows for {} layers",
               s.cells.size(), s.model.layers);
  KVMIX_ASSERT(!s.pairs.empty(), "accepted a profile without pairs");
  for (const auto& row : s.cells) {
    KVMIX_ASSERT(row.size() == s.pairs.size(), "{} cells for {} pairs", row.size(), s.pairs.size());
    for (const CellStats& c : row)
      KVMIX_ASSERT(usable(c.k_rel_err) && usable(c.v_rel_err) && usable(c.attn_tv) &&
                       usable(c.out_rel_err) && usable(c.kl) && usable(c.kl_p90) &&
                       usable(c.bytes_per_token) && c.bytes_per_token > 0,
                   "accepted a cell with a negative, zero-byte or non-finite figure");
  }
  KVMIX_ASSERT(usable(s.full_precision_bytes_per_token), "full-precision bytes");
  const Sensitivity back = sensitivity_from_json(sensitivity_to_json(s), "round-trip");
  KVMIX_ASSERT(back.cells.size() == s.cells.size() && back.pairs == s.pairs &&
                   back.tasks == s.tasks && back.samples == s.samples &&
                   back.reference_tokens == s.reference_tokens &&
                   back.model.layers == s.model.layers && back.model.head_dim == s.model.head_dim,
               "profile changed through sensitivity_to_json");
  for (size_t l = 0; l < s.cells.size(); ++l)
    for (size_t p = 0; p < s.pairs.size(); ++p)
      KVMIX_ASSERT(back.cells[l][p].kl == s.cells[l][p].kl &&
                       back.cells[l][p].out_rel_err == s.cells[l][p].out_rel_err &&
                       back.cells[l][p].bytes_per_token == s.cells[l][p].bytes_per_token,
                   "cell ({}, {}) changed through sensitivity_to_json", l, p);
  return 0;
}
