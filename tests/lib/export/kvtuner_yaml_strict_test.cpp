// KVTuner presets are read as KVTuner reads them (PyYAML's safe_load) or refused: a repeated key
// (yaml-cpp took the first value, PyYAML takes the last), a second document (yaml-cpp took the
// first, PyYAML refuses), a leading-zero integer (octal to PyYAML); and a scheme whose groups do
// not fit the model's heads is refused naming the file and head_dim.
#include <catch2/catch.hpp>

#include "base/error.h"
#include "lib/export/kvtuner_yaml.h"
#include "tests/lib/export/small_config.h"

using namespace kvmix;
using Catch::Contains;

namespace {

// Layers 0-2 of the 4-layer small model; each case adds layer 3 its own way.
const std::string kThreeLayers =
    "0: {nbits_key: 4, nbits_value: 2}\n1: {nbits_key: 4, nbits_value: 2}\n"
    "2: {nbits_key: 4, nbits_value: 2}\n";

KvConfig import_text(const std::string& text) {
  return import_kvtuner(text, "p.yaml", Scheme::kKivi, test::small_shape());
}

}  // namespace

TEST_CASE("kvtuner: a repeated key is refused, naming the file and the key", "[export][kvtuner]") {
  CHECK_THROWS_WITH(import_text(kThreeLayers + "3:\n  nbits_key: 4\n  nbits_key: 2\n  nbits_value: 2\n"),
                    Contains("p.yaml:6") && Contains("layer 3: duplicate key 'nbits_key'"));
  CHECK_THROWS_WITH(import_text(kThreeLayers + "3: {nbits_key: 4, nbits_value: 2, nbits_value: 8}\n"),
                    Contains("p.yaml") && Contains("duplicate key 'nbits_value'"));
  CHECK_THROWS_WITH(import_text(kThreeLayers + "3: {nbits_key: 4, nbits_value: 2}\n"
                                               "1: {nbits_key: 8, nbits_value: 8}\n"),
                    Contains("p.yaml") && Contains("duplicate key '1'"));
  CHECK_NOTHROW(import_text(kThreeLayers + "3: {nbits_key: 4, nbits_value: 2}\n"));
}

TEST_CASE("kvtuner: more than one YAML document is refused", "[export][kvtuner]") {
  const std::string one = kThreeLayers + "3: {nbits_key: 4, nbits_value: 2}\n";
  CHECK_THROWS_WITH(import_text(one + "---\n" + one),
                    Contains("p.yaml") && Contains("more than one YAML document"));
  CHECK_NOTHROW(import_text("---\n" + one));  // one document with its start marker
  // A top-level "," made yaml-cpp 0.7's LoadAll append null documents forever (a fuzz finding):
  // now a prompt refusal.
  CHECK_THROWS_WITH(import_text(","), Contains("p.yaml"));
  CHECK_THROWS_WITH(import_text("{a: 1}, b"), Contains("p.yaml"));
}

TEST_CASE("kvtuner: integers with a leading zero are refused", "[export][kvtuner]") {
  CHECK_THROWS_WITH(import_text(kThreeLayers + "3: {nbits_key: 016, nbits_value: 2}\n"),
                    Contains("p.yaml") && Contains("nbits_key must be an integer, not '016'"));
  CHECK_THROWS_WITH(import_text(kThreeLayers + "03: {nbits_key: 4, nbits_value: 2}\n"),
                    Contains("p.yaml") && Contains("'03' is not a layer index"));
}

TEST_CASE("kvtuner: kivi on a head_dim its groups of 32 do not divide is refused by name",
          "[export][kvtuner]") {
  const std::string four = kThreeLayers + "3: {nbits_key: 4, nbits_value: 2}\n";
  for (int64_t head_dim : {int64_t{48}, int64_t{16}}) {
    INFO("head_dim " << head_dim);
    auto shape = test::small_shape();
    shape.head_dim = head_dim;
    CHECK_THROWS_WITH(import_kvtuner(four, "p.yaml", Scheme::kKivi, shape),
                      Contains("p.yaml") && Contains("kivi scheme does not fit head_dim " +
                                                     std::to_string(head_dim)));
    CHECK_NOTHROW(import_kvtuner(four, "p.yaml", Scheme::kPerToken, shape));
  }
}
