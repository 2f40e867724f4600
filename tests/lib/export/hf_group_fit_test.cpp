// transformers' quantized cache has one q_group_size for keys and values. When the keys' group
// (tokens, per-channel) does not divide head_dim and the values are grouped per token, the
// lowering is refused naming the group, the layer it came from, head_dim and the axis; it once
// failed inside the byte count with an error naming none of them.
#include "lib/export/hf_quantized_cache.h"

#include <catch2/catch.hpp>

#include "base/error.h"
#include "tests/lib/export/small_config.h"

using namespace kvmix;
using Catch::Contains;

namespace {

// The small model (head_dim 32) with keys in per-channel groups of 64 tokens and values per token.
KvConfig wide_key_groups() {
  KvConfig c = test::small_config();
  for (auto& l : c.layers) {
    l.k = uniform_format(4, QuantAxis::kPerChannel, 64, 64);
    l.v = uniform_format(4, QuantAxis::kPerToken, 0, 0);
  }
  return c;
}

}  // namespace

TEST_CASE("hf: a q_group_size that cannot group the values' channels is refused by name",
          "[export]") {
  CHECK_THROWS_WITH(export_hf(wide_key_groups()),
                    Contains("q_group_size 64 (the group of layer 0's keys)") &&
                        Contains("head_dim 32") && Contains("axis_value 1"));
  KvConfig fits = wide_key_groups();
  for (auto& l : fits.layers) l.k = uniform_format(4, QuantAxis::kPerChannel, 32, 32);
  CHECK_NOTHROW(export_hf(fits));
}
