// State file headers: the schema name must be that string and the version that integer. A header of
// the wrong type is an error naming the file (never nlohmann's bare type_error), and version 1.5 is
// not version 1.
#include "lib/io/json_header.h"

#include <catch2/catch.hpp>

#include "base/error.h"

using namespace kvmix;
using Catch::Contains;
using nlohmann::json;

TEST_CASE("check_json_header: the schema string and the integer version, else an error naming the file",
          "[lib][json_header]") {
  CHECK_NOTHROW(check_json_header(json{{"schema", "kvmix.x"}, {"version", 1}}, "schema", "kvmix.x", 1,
                                  "run.json", "a run record"));
  for (const json& bad : {json::array(), json("kvmix.x"), json{{"version", 1}},
                          json{{"schema", 5}, {"version", 1}}, json{{"schema", "kvmix.y"}, {"version", 1}}}) {
    INFO(bad.dump());
    CHECK_THROWS_WITH(check_json_header(bad, "schema", "kvmix.x", 1, "run.json", "a run record"),
                      Contains("run.json: not a run record"));
  }
  for (const json& bad : {json{{"schema", "kvmix.x"}}, json{{"schema", "kvmix.x"}, {"version", 1.5}},
                          json{{"schema", "kvmix.x"}, {"version", 1.0}},
                          json{{"schema", "kvmix.x"}, {"version", "1"}},
                          json{{"schema", "kvmix.x"}, {"version", 2}}}) {
    INFO(bad.dump());
    CHECK_THROWS_WITH(check_json_header(bad, "schema", "kvmix.x", 1, "run.json", "a run record"),
                      Contains("run.json: a run record of version") && Contains("reads version 1"));
  }
}
