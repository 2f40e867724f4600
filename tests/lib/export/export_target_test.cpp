// The target table: names parse both ways, an unknown one is a usage error naming the choices,
// and every target lowers the small config to a file name and some text.
#include "lib/export/export_target.h"

#include <catch2/catch.hpp>
#include <set>

#include "base/error.h"
#include "lib/export/lowering.h"
#include "tests/lib/export/small_config.h"

using namespace kvmix;
using Catch::Contains;

TEST_CASE("export targets: names, unknown target, every converter runs", "[export]") {
  std::set<std::string> files;
  for (ExportTarget t : all_export_targets()) {
    CHECK(parse_export_target(export_target_name(t)) == t);
    const ExportResult r = export_config(test::small_config(), t);
    CHECK(r.target == export_target_name(t));
    CHECK(!r.text.empty());
    files.insert(r.file_name);
  }
  CHECK(files.size() == all_export_targets().size());  // `--to all` never overwrites its own files
  CHECK_THROWS_AS(parse_export_target("tensorrt"), UsageError);
  CHECK_THROWS_WITH(parse_export_target("tensorrt"),
                    Contains("unknown export target 'tensorrt'") && Contains("llamacpp"));
}

TEST_CASE("lowering: layer ranges and labels", "[export]") {
  CHECK(layer_ranges({0, 1, 2, 3, 7, 9, 10}) == "0-3, 7, 9-10");
  CHECK(layer_ranges({}) == "");
  CHECK(layers_label({5}) == "layer 5");
  CHECK(layers_label({1, 3}) == "layers 1, 3");
}
