// LMDeploy lowering: one quant_policy for all layers and both K and V.
#include "lib/export/lmdeploy_policy.h"

#include <catch2/catch.hpp>
#include <spdlog/fmt/fmt.h>

#include "tests/lib/export/small_config.h"

using namespace kvmix;

TEST_CASE("lmdeploy: an fp16 layer forces policy 0", "[export]") {
  const KvConfig c = test::small_config();
  const ExportResult r = export_lmdeploy(c);
  CHECK(r.text.rfind("--quant-policy 0\n", 0) == 0);
  const double ours = total_bytes_per_token(c, 4096);
  const std::vector<std::string> expected = {
      "layer 0: K or V kept in fp16, and LMDeploy has one policy for all layers: quant_policy 0, "
      "no layer is quantized",
      fmt::format("memory: about 1024 bytes per token in LMDeploy (quant_policy 0) against {:.0f} "
                  "true bytes in kvmix at 4096 tokens (+{:.0f}%)",
                  ours, 100.0 * (1024.0 / ours - 1.0)),
  };
  CHECK(r.losses == expected);
}

TEST_CASE("lmdeploy: K8V4 everywhere is policy 8, values lose compression", "[export]") {
  const ExportResult r = export_lmdeploy(test::uniform_config(Scheme::kPerToken, {8, 4}));
  CHECK(r.text.rfind("--quant-policy 8\n", 0) == 0);
  CHECK(r.losses.at(0) ==
        "layers 0-3: fewer than 8 bits would do, but LMDeploy has one policy for all layers and "
        "both K and V: they lose compression");
}

TEST_CASE("lmdeploy: kivi K4V2 is policy 4 with 2-bit values raised", "[export]") {
  const ExportResult r = export_lmdeploy(test::uniform_config(Scheme::kKivi, {4, 2}));
  CHECK(r.text.rfind("--quant-policy 4\n", 0) == 0);
  REQUIRE(r.losses.size() >= 3);
  CHECK(r.losses[0] ==
        "layers 0-3: keys or values below 4 bits (2-bit, ternary...) are not representable: "
        "stored as 4-bit integers");
  CHECK(r.losses[1] == "layers 0-3: per-channel key groups (KIVI) become per-token, per-head groups");
}
