#pragma once
// The input files of tests/fuzz/KIND/TARGET/ (KIND: corpus or regressions), sorted; none when the
// folder does not exist (a target without regressions yet). Callers that need inputs require
// them by count.
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

namespace kvmix::test {

inline std::vector<std::filesystem::path> fuzz_inputs(const std::string& kind, const std::string& target) {
  namespace fs = std::filesystem;
  std::vector<fs::path> out;
  const fs::path dir = fs::path(KVMIX_SOURCE_DIR) / "tests/fuzz" / kind / target;
  if (!fs::is_directory(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace kvmix::test
