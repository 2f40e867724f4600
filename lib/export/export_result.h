#pragma once
// What a converter returns: the text an engine consumes and the list of what the engine cannot
// express. A converter never drops information silently: every precision it had to raise or
// lower, every encoding detail it could not write (group size, axis, residual window, scale
// dtype), and the memory this costs, becomes one human-readable line of `losses`.
#include <string>
#include <vector>

namespace kvmix {

struct ExportResult {
  std::string target;                // "kvtuner", "hf", ...
  std::string file_name;             // suggested name under the output folder
  std::string text;                  // the file's contents
  std::vector<std::string> losses;   // empty: the target expresses the config exactly
};

}  // namespace kvmix
