// The process's thread budget: libtorch's OpenMP pool gets it, OpenBLAS stays on the calling
// thread (lib/process/cpu_threads.h says what happened when both took every core). The OpenBLAS count is
// read back through its own entry point, looked up the same way the setter is.
#include <catch2/catch.hpp>

#include "lib/process/cpu_threads.h"

using namespace kvmix;

TEST_CASE("cpu threads: OpenMP gets the budget, OpenBLAS one thread", "[lib][cpu_threads]") {
  const int before = at::get_num_threads();
  set_cpu_threads(2);
  CHECK(at::get_num_threads() == 2);
  using GetThreads = int (*)();
  if (auto get = reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads")))
    CHECK(get() == 1);
  set_cpu_threads(before);
  CHECK(at::get_num_threads() == before);
}
