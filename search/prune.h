#pragma once
// Prune: per layer, drop the candidate pairs dominated on (true bytes, error). A pair that costs
// at least as many bytes as another and errs at least as much is never worth choosing, whatever the
// other layers do (the objective is additive in bytes and, for the proxy, in error).
#include <cstddef>
#include <vector>

#include "search/sensitivity.h"

namespace kvmix {

// candidates[l] = indices into s.pairs kept for layer l, sorted by bytes ascending.
std::vector<std::vector<size_t>> prune_pairs(const Sensitivity& s, ErrorMetric metric);

}  // namespace kvmix
