// kvmix's kernels and torch share one OpenMP runtime: with a pip torch, which ships its own
// libgomp, a second runtime would bring a second thread pool and oversubscribe the cores. The
// oracle is the process's own memory map after both have run parallel work.
#include <ATen/Parallel.h>
#include <catch2/catch.hpp>

#include <fstream>
#include <set>
#include <string>

#include "kernels/format_registry.h"
#include "tests/kernels/kernel_test_util.h"

using namespace kvmix;

namespace {

// The distinct files of OpenMP runtimes mapped into this process.
std::set<std::string> openmp_runtimes() {
  std::set<std::string> found;
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    const size_t slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string path = line.substr(slash);
    const std::string base = path.substr(path.rfind('/') + 1);
    for (const char* runtime : {"libgomp", "libiomp", "libomp"})
      if (base.rfind(runtime, 0) == 0) found.insert(path);
  }
  return found;
}

}  // namespace

TEST_CASE("one OpenMP runtime serves torch and kvmix's kernels", "[kernels][openmp]") {
  if (!std::ifstream("/proc/self/maps")) return;  // not Linux: nothing to read
  // Parallel work on both sides: torch's pool and a kvmix CPU kernel (an OpenMP loop).
  at::parallel_for(0, 1 << 16, 1024, [](int64_t, int64_t) {});
  const at::Tensor x = at::randn({64, 8, 128});
  (void)quantize_pack(x, format_registry().front().format);
  const std::set<std::string> runtimes = openmp_runtimes();
  std::string list;
  for (const auto& r : runtimes) list += r + " ";
  INFO("OpenMP runtimes mapped: " << list);
  CHECK(runtimes.size() == 1);
}
