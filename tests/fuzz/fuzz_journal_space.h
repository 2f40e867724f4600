#pragma once
// The run fuzz_journal opens its journals for, shared with the test that replays its inputs
// (tests/fuzz/fuzz_corpus_replay_test.cpp): a search of 3 layers over 4 pairs, and its header.
// Input files are one mode byte, then the journal's bytes: with the mode's low bit set, the
// header line of this run is written first, so the fuzzer spends its time on the trial lines
// rather than on rediscovering a header that matches.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "search/journal.h"

namespace kvmix::fuzz {

inline TrialSpace journal_space() {
  TrialSpace s;
  s.layer_pair_bytes = {{96.0, 160.5, 288.25, 512.0},
                        {96.0, 160.5, 288.25, 512.0},
                        {80.0, 144.5, 272.25, 512.0}};
  return s;
}

inline nlohmann::json journal_header() {
  return {{"method", "kvmix"}, {"scheme", "kivi"}, {"pairs", {"KV2", "K4V2", "KV4", "KV8"}},
          {"model", "fuzz"}, {"seed", 0}};
}

// The journal file's bytes for a fuzz input (mode byte first).
inline std::string journal_bytes(const uint8_t* data, size_t size) {
  if (size == 0) return {};
  std::string out;
  if (data[0] & 1)
    out = nlohmann::json{{"journal", "kvmix.search"}, {"version", 1}, {"run", journal_header()}}
              .dump() +
          "\n";
  out.append(reinterpret_cast<const char*>(data) + 1, size - 1);
  return out;
}

}  // namespace kvmix::fuzz
