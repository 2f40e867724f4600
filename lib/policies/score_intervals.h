#pragma once
// 95% intervals of a policy study's scores, so that results/ claims only what its samples support.
//   exact match  Wilson score interval (Wilson 1927; Brown, Cai and DasGupta 2001 recommend it over
//                the normal interval, which collapses to a point at 0% and 100%): with k correct of
//                n and z = 1.96,
//                  centre = (k + z^2/2) / (n + z^2),  half = z sqrt(k(n-k)/n + z^2/4) / (n + z^2)
//   perplexity   percentile bootstrap over the samples (Efron and Tibshirani 1993, ch. 13): each
//                replicate draws n samples with replacement and computes
//                exp(sum of their NLL / sum of their tokens), the perplexity of the pooled tokens
//                as the study reports it; the interval is the 2.5th and 97.5th percentiles.
//                The generator is seeded, so an interval is reproducible.
#include <cstdint>
#include <utility>
#include <vector>

namespace kvmix {

// {low, high} of the 95% Wilson interval of k successes in n trials; {0, 1} when n is 0.
std::pair<double, double> wilson_interval(int64_t k, int64_t n);

// {low, high} of the 95% percentile-bootstrap interval of exp(sum nll / sum tokens) over samples:
// nll[i] the summed NLL (nats) of sample i, tokens[i] its token count (same length, non-empty).
std::pair<double, double> bootstrap_perplexity_interval(const std::vector<double>& nll,
                                                        const std::vector<int64_t>& tokens,
                                                        uint64_t seed, int replicates = 2000);

}  // namespace kvmix
