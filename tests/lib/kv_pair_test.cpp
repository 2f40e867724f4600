// check_scheme_fits: kivi's value groups of 32 channels on a head_dim 32 does not divide (16, 48)
// once failed deep in the cache with an error naming no scheme; now the scheme, head_dim and
// format are named before any work.
#include "lib/kv_pair.h"

#include <catch2/catch.hpp>

#include "base/error.h"

using namespace kvmix;
using Catch::Contains;

TEST_CASE("check_scheme_fits names the scheme, the head_dim and the format", "[kv_pair]") {
  for (int64_t head_dim : {int64_t{16}, int64_t{48}, int64_t{80}}) {
    INFO("head_dim " << head_dim);
    CHECK_THROWS_WITH(check_scheme_fits(Scheme::kKivi, head_dim),
                      Contains("kivi scheme does not fit head_dim " + std::to_string(head_dim)) &&
                          Contains("values") && Contains("group 32") &&
                          Contains("per-token scheme"));
    CHECK_NOTHROW(check_scheme_fits(Scheme::kPerToken, head_dim));
  }
  for (int64_t head_dim : {int64_t{32}, int64_t{64}, int64_t{128}, int64_t{256}}) {
    CHECK_NOTHROW(check_scheme_fits(Scheme::kKivi, head_dim));
    CHECK_NOTHROW(check_scheme_fits(Scheme::kPerToken, head_dim));
  }
}
