#pragma once
// gnuplot is a dependency (scripts/setup.sh installs gnuplot-nox): a test that draws requires it,
// so a machine without it fails loudly instead of passing cases it never ran.
#include <catch2/catch.hpp>

#include "lib/process/run_program.h"

namespace kvmix::test {

inline void require_gnuplot() {
  INFO("gnuplot is not installed (scripts/setup.sh installs gnuplot-nox)");
  REQUIRE(run_program({"gnuplot", "--version"}).ran);
}

}  // namespace kvmix::test
