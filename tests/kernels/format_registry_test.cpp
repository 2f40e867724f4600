// The registry's storage figures agree with true_bytes and the listing shows every format.
#include <catch2/catch.hpp>

#include <set>

#include "kernels/format_registry.h"
#include "kernels/ops.h"

using namespace kvmix;

TEST_CASE("registry entries are unique and their storage figures match true_bytes",
          "[kernels][registry]") {
  std::set<std::string> names;
  const std::string table = format_table_text();
  for (const FormatEntry& e : format_registry()) {
    CAPTURE(e.name);
    CHECK(names.insert(e.name).second);
    CHECK(e.name == format_name(e.format));
    CHECK(table.find(e.name + " ") != std::string::npos);
    const QuantFormat& f = e.format;
    if (f.kind == QuantKind::kFp8E4M3) {
      // one token row of head_dim codes, one byte each
      CHECK(e.bytes_per_group == kRegistryHeadDim);
    } else if (f.axis == QuantAxis::kPerChannel) {
      // one group = G tokens of one channel
      CHECK(e.bytes_per_group == true_bytes(1, e.group, 1, f, 2));
    } else {
      // one group = G channels of one token
      CHECK(e.bytes_per_group == true_bytes(1, 1, e.group, f, 2));
    }
    const double elements = static_cast<double>(kRegistryTokens * kRegistryHeadDim);
    CHECK(e.bits_per_element ==
          Approx(8.0 * true_bytes(1, kRegistryTokens, kRegistryHeadDim, f, 2) / elements));
    CHECK(e.bits_per_element >= e.nominal_bits);
  }
  CHECK(names.size() == 79);  // (asym, sym) x 5 bit widths x 7 layouts + 7 ternary + 2 fp8
}
