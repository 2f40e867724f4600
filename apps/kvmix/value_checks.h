#pragma once
// CLI11 validators for plain option values (numbers, names, thread counts), attached with
// ->check(...): a failure is a CLI11 validation error, which main() turns into exit status 2
// before any work starts. Header-only and free of lib/, so `bench kernels` keeps them in the
// kernels-only build; checks that need lib/ (tasks, paths) are in option_checks.h.
#include <CLI/CLI.hpp>
#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>

#include "base/error.h"

namespace kvmix::app {

namespace detail {

// The whole text as a number (strtod/strtoll also accept a prefix, "4x" as 4); false otherwise.
inline bool whole_double(const std::string& s, double& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  out = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size() && errno != ERANGE;
}

inline bool whole_int(const std::string& s, int64_t& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  out = std::strtoll(s.c_str(), &end, 10);
  return end == s.c_str() + s.size() && errno != ERANGE;
}

}  // namespace detail

// Refuses an empty value: `-p ""` would otherwise leave an empty list, run nothing and exit 0.
inline CLI::Validator non_empty() {
  return CLI::Validator(
      [](std::string& s) { return s.empty() ? std::string("the value is empty") : std::string(); },
      "", "non_empty");
}

// An integer of at least 1 (CLI::PositiveNumber's message prints the range up to 1.8e308).
inline CLI::Validator positive_int() {
  return CLI::Validator(
      [](std::string& s) {
        int64_t v = 0;
        if (!detail::whole_int(s, v) || v < 1) return fmt::format("{} is not an integer >= 1", s);
        return std::string();
      },
      "", "positive_int");
}

// A finite number in [lo, hi], or (lo, hi] when lo_open (NaN and inf are refused: "nan" parses).
inline CLI::Validator finite_in(double lo, double hi, bool lo_open = false) {
  const std::string range = fmt::format("{}{}, {}]", lo_open ? "(" : "[", lo, hi);
  return CLI::Validator(
      [lo, hi, lo_open, range](std::string& s) {
        double v = 0;
        if (!detail::whole_double(s, v) || !std::isfinite(v) || v > hi || v < lo ||
            (lo_open && v == lo))
          return fmt::format("{} is not a number in {}", s, range);
        return std::string();
      },
      "NUMBER in " + range, "finite_in");
}

// An integer in [step, max] that is a multiple of `step` (a group size must divide it).
inline CLI::Validator multiple_of(int64_t step, int64_t max) {
  return CLI::Validator(
      [step, max](std::string& s) {
        int64_t v = 0;
        if (!detail::whole_int(s, v) || v < step || v > max || v % step != 0)
          return fmt::format("{} is not a multiple of {} in [{}, {}]", s, step, step, max);
        return std::string();
      },
      fmt::format("INT multiple of {} up to {}", step, max), "multiple_of");
}

// A value `parse` accepts. `parse` throws kvmix::Error (a UsageError, usually) saying why not, and
// that message becomes CLI11's. For names parsed at the edge: pairs, schemes, splits, targets.
//   ->check(parsed_by([](const std::string& s) { parse_pair(s); }, "PAIR"))
inline CLI::Validator parsed_by(std::function<void(const std::string&)> parse,
                                const std::string& what) {
  return CLI::Validator(
      [parse = std::move(parse)](std::string& s) {
        try {
          parse(s);
        } catch (const Error& e) {
          return std::string(e.what());
        }
        return std::string();
      },
      what, "parsed_by");
}

// The most CPU threads a --threads option accepts: 4x the machine's hardware threads. More only
// adds contention, and a typo such as 100000 would spend minutes creating threads.
inline int max_threads() {
  const unsigned hw = std::thread::hardware_concurrency();  // 0 when unknown
  return 4 * static_cast<int>(std::max(1u, hw));
}

// --threads: 0 (every core) to max_threads(); negative counts are refused.
inline CLI::Validator thread_count() {
  return CLI::Validator(
      [](std::string& s) {
        int64_t v = 0;
        if (!detail::whole_int(s, v) || v < 0 || v > max_threads())
          return fmt::format(
              "{} is not a thread count in [0, {}] (0: every core; at most 4x this machine's {} "
              "hardware threads)",
              s, max_threads(), max_threads() / 4);
        return std::string();
      },
      fmt::format("INT in [0, {}]", max_threads()), "thread_count");
}

}  // namespace kvmix::app
