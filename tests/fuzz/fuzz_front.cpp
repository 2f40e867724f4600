// libFuzzer target: load_front (front.json, what `kvmix compare`, plots and exports read) on
// arbitrary bytes, read from a file. A bad front must be refused with a kvmix::Error; a crash, a
// sanitizer report or another exception escaping is a bug. A front that loads must keep what
// front_from_json promises (points sorted by bytes, non-dominated, finite, below the hypervolume
// reference; one hypervolume per evaluation, never falling beyond rounding) and survive front_to_json unchanged
// (what save_front relies on). Crashes go to tests/fuzz/regressions/front/.
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "base/error.h"
#include "lib/io/json_number.h"  // same_up_to_rounding
#include "search/front.h"
#include "tests/fuzz/fuzz_input_file.h"
#include "tests/fuzz/fuzz_refused.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kvmix;
  const std::string path = fuzz::write_input_file("front.json", data, size);
  Front f;
  try {
    f = load_front(path);
  } catch (const Error& e) {
    return fuzz::refused(e);
  }
  const size_t layers = static_cast<size_t>(f.sensitivity.model.layers);
  for (size_t i = 0; i < f.points.size(); ++i) {
    const FrontPoint& p = f.points[i];
    KVMIX_ASSERT(p.layer_pairs.size() == layers, "point {}: {} pairs for {} layers", i,
                 p.layer_pairs.size(), layers);
    for (const size_t pair : p.layer_pairs)
      KVMIX_ASSERT(pair < f.sensitivity.pairs.size(), "point {}: pair index {} of {}", i, pair,
                   f.sensitivity.pairs.size());
    KVMIX_ASSERT(std::isfinite(p.bytes_per_token) && p.bytes_per_token > 0 &&
                     std::isfinite(p.kl) && p.kl >= 0,
                 "point {}: bytes {} KL {}", i, p.bytes_per_token, p.kl);
    if (i > 0) {
      KVMIX_ASSERT(f.points[i - 1].bytes_per_token <= p.bytes_per_token, "points out of order");
      KVMIX_ASSERT(!dominates({f.points[i - 1].bytes_per_token, f.points[i - 1].kl},
                              {p.bytes_per_token, p.kl}),
                   "point {} is dominated", i);
    }
  }
  KVMIX_ASSERT(static_cast<int64_t>(f.hypervolume_curve.size()) == f.evaluations,
               "{} hypervolumes for {} evaluations", f.hypervolume_curve.size(), f.evaluations);
  // Never falling, up to the rounding of a recomputed sum (what the reader allows).
  for (size_t i = 1; i < f.hypervolume_curve.size(); ++i)
    KVMIX_ASSERT(f.hypervolume_curve[i - 1] <= f.hypervolume_curve[i] ||
                     same_up_to_rounding(f.hypervolume_curve[i], f.hypervolume_curve[i - 1]),
                 "hypervolume falls at {}: {} after {}", i, f.hypervolume_curve[i],
                 f.hypervolume_curve[i - 1]);
  const Front back = front_from_json(front_to_json(f), "round-trip");
  KVMIX_ASSERT(back.method == f.method && back.evaluations == f.evaluations &&
                   back.points.size() == f.points.size() &&
                   back.hypervolume_curve == f.hypervolume_curve &&
                   back.complete == f.complete &&
                   back.search.has_value() == f.search.has_value(),
               "front changed through front_to_json");
  for (size_t i = 0; i < f.points.size(); ++i)
    KVMIX_ASSERT(back.points[i].layer_pairs == f.points[i].layer_pairs &&
                     back.points[i].kl == f.points[i].kl,
                 "point {} changed through front_to_json", i);
  return 0;
}
