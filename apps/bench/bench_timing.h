#pragma once
// Wall-clock timing shared by the benchmarks: medians of repeated runs after a warm-up.
#include <algorithm>
#include <chrono>
#include <vector>

namespace kvmix::bench {

// Wall times of `repeats` runs of f after one warm-up run.
template <class F>
std::vector<double> timed_runs(int repeats, F&& f) {
  f();
  std::vector<double> t;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return t;
}

inline double median_of(std::vector<double> t) {
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

template <class F>
double median_seconds(int repeats, F&& f) {
  return median_of(timed_runs(repeats, f));
}

}  // namespace kvmix::bench
