#include "lib/policies/score_intervals.h"

#include <algorithm>
#include <cmath>

#include "base/error.h"
#include "lib/rng.h"

namespace kvmix {
namespace {
constexpr double kZ95 = 1.959963984540054;  // the 97.5th percentile of the standard normal
}  // namespace

std::pair<double, double> wilson_interval(int64_t k, int64_t n) {
  KVMIX_ASSERT(k >= 0 && k <= n, "{} successes of {}", k, n);
  if (n == 0) return {0.0, 1.0};
  const double nd = static_cast<double>(n), kd = static_cast<double>(k), z2 = kZ95 * kZ95;
  const double centre = (kd + z2 / 2) / (nd + z2);
  const double half = kZ95 * std::sqrt(kd * (nd - kd) / nd + z2 / 4) / (nd + z2);
  return {std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

std::pair<double, double> bootstrap_perplexity_interval(const std::vector<double>& nll,
                                                        const std::vector<int64_t>& tokens,
                                                        uint64_t seed, int replicates) {
  KVMIX_ASSERT(!nll.empty() && nll.size() == tokens.size() && replicates >= 2);
  Rng rng(seed);
  const uint64_t n = nll.size();
  std::vector<double> ppl;
  ppl.reserve(static_cast<size_t>(replicates));
  for (int r = 0; r < replicates; ++r) {
    double sum = 0, count = 0;
    for (uint64_t i = 0; i < n; ++i) {
      const uint64_t j = rng.uniform(n);
      sum += nll[j];
      count += static_cast<double>(tokens[j]);
    }
    ppl.push_back(count > 0 ? std::exp(sum / count) : 1.0);
  }
  std::sort(ppl.begin(), ppl.end());
  // percentiles by the rank below and the rank above (the interval is at least as wide as asked)
  const double last = static_cast<double>(replicates - 1);
  return {ppl[static_cast<size_t>(std::floor(0.025 * last))],
          ppl[static_cast<size_t>(std::ceil(0.975 * last))]};
}

}  // namespace kvmix
