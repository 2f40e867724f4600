#pragma once
// The expected outcome of a damaged input: the reader refused it with a kvmix::Error. With
// KVMIX_FUZZ_VERBOSE set, the message is printed, which is how a seed is checked to load:
//   KVMIX_FUZZ_VERBOSE=1 build-fuzz/fuzz_front tests/fuzz/corpus/front/*
#include <cstdio>
#include <cstdlib>
#include <exception>

namespace kvmix::fuzz {

inline int refused(const std::exception& e) {
  static const bool verbose = std::getenv("KVMIX_FUZZ_VERBOSE") != nullptr;
  if (verbose) std::fprintf(stderr, "refused: %s\n", e.what());
  return 0;
}

}  // namespace kvmix::fuzz
