// Numbers from input files: an integer field takes JSON integers in its bounds only (not 1e9, not
// 2.5, not "8", not 2^64 - 1 read as -1), a real field finite numbers in its bounds only; each
// error names where the value was.
#include "lib/io/json_number.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "base/error.h"

using namespace kvmix;
using Catch::Contains;
using nlohmann::json;

TEST_CASE("json_integer: integers in bounds only", "[lib][json_number]") {
  CHECK(json_integer(json(8), 1, 100, "f: n") == 8);
  CHECK(json_integer(json(-1), -1, 0, "f: n") == -1);
  for (json bad : {json(1e9), json(2.5), json(8.0), json("8"), json(nullptr), json(0), json(101),
                   json(std::numeric_limits<uint64_t>::max()), json::array({8})}) {
    INFO(bad.dump());
    CHECK_THROWS_WITH(json_integer(bad, 1, 100, "f.json: field 'n'"),
                      Contains("f.json: field 'n' must be an integer in [1, 100]"));
  }
}

TEST_CASE("json_unsigned: any non-negative 64-bit integer", "[lib][json_number]") {
  CHECK(json_unsigned(json(std::numeric_limits<uint64_t>::max()), "f: seed") ==
        std::numeric_limits<uint64_t>::max());
  CHECK(json_unsigned(json(0), "f: seed") == 0);
  for (json bad : {json(-1), json(1.5), json("7")})
    CHECK_THROWS_WITH(json_unsigned(bad, "f: seed"), Contains("f: seed"));
}

TEST_CASE("json_number: finite numbers in bounds only", "[lib][json_number]") {
  CHECK(json_number(json(0.5), 0, 1, "f: x") == 0.5);
  CHECK(json_number(json(1), 0, 1, "f: x") == 1.0);
  for (json bad : {json(-0.1), json(1.5), json(nullptr), json("0.5"),
                   json(std::numeric_limits<double>::infinity())}) {
    INFO(bad.dump());
    CHECK_THROWS_WITH(json_number(bad, 0, 1, "f: x"), Contains("f: x must be a finite number"));
  }
}

TEST_CASE("same_up_to_rounding: rounding passes, a real difference does not", "[lib][json_number]") {
  CHECK(same_up_to_rounding(48.8125, 48.8125));
  CHECK(same_up_to_rounding(0.1 + 0.2, 0.3));
  CHECK_FALSE(same_up_to_rounding(0, 48.8125));
  CHECK_FALSE(same_up_to_rounding(48.8125 * (1 + 1e-6), 48.8125));
  CHECK_FALSE(same_up_to_rounding(std::nan(""), 1.0));
}
