// vLLM lowering: one fp8 dtype plus skipped fp16 layers, and the loss list of the small config.
#include "lib/export/vllm_flags.h"

#include <catch2/catch.hpp>
#include <spdlog/fmt/fmt.h>

#include "tests/lib/export/small_config.h"

using namespace kvmix;

TEST_CASE("vllm: fp8 everywhere but the fp16 layer, listing what that costs", "[export]") {
  const KvConfig c = test::small_config();
  const ExportResult r = export_vllm(c);
  CHECK(r.file_name == "vllm_flags.txt");
  CHECK(r.text == "--kv-cache-dtype fp8_e4m3 --kv-cache-dtype-skip-layers 0\n");
  // Layer 0 at 16 + 16 bits, layers 1-3 at 8 + 8, over 2 heads x 32 channels: 640 bytes per token.
  const double ours = total_bytes_per_token(c, 4096);
  const std::vector<std::string> expected = {
      "layer 2 (K4V2): vLLM has one quantized dtype, below 8 bits none: stored as fp8, they lose "
      "their compression",
      "layer 1 (K8V4): vLLM has one quantized dtype, below 8 bits none: stored as fp8, they lose "
      "their compression",
      "layers 1, 3: 8-bit integers with per-group dynamic scales become fp8 e4m3 with one static "
      "scale per tensor (1.0 unless the checkpoint carries k/v scales or --calculate-kv-scales is "
      "given)",
      "residual window dropped: kvmix keeps up to the newest 32 tokens in the model dtype, vLLM "
      "quantizes every token as it is stored",
      fmt::format("memory: about 640 bytes per token in vLLM (fp8) against {:.0f} true bytes in "
                  "kvmix at 4096 tokens (+{:.0f}%)",
                  ours, 100.0 * (640.0 / ours - 1.0)),
  };
  CHECK(r.losses == expected);
}

TEST_CASE("vllm: an all-fp16 config is dtype auto and loses nothing", "[export]") {
  const ExportResult r = export_vllm(test::uniform_config(Scheme::kKivi, {16, 16}));
  CHECK(r.text == "--kv-cache-dtype auto\n");
  CHECK(r.losses.empty());
}

TEST_CASE("vllm: uniform 8-bit per-token changes encoding, not memory", "[export]") {
  const ExportResult r = export_vllm(test::uniform_config(Scheme::kPerToken, {8, 8}));
  CHECK(r.text == "--kv-cache-dtype fp8_e4m3\n");
  REQUIRE(r.losses.size() == 1);
  CHECK(r.losses[0].rfind("layers 0-3: 8-bit integers", 0) == 0);
}

TEST_CASE("vllm: a layer with one fp16 side is skipped whole", "[export]") {
  KvConfig c = test::uniform_config(Scheme::kKivi, {4, 4});
  c.layers[3].v = full_precision();
  const ExportResult r = export_vllm(c);
  CHECK(r.text == "--kv-cache-dtype fp8_e4m3 --kv-cache-dtype-skip-layers 3\n");
  CHECK(std::find(r.losses.begin(), r.losses.end(),
                  "layer 3: one of K and V is fp16 in kvmix; vLLM skips a layer's K and V "
                  "together, so the other is kept in the model dtype too") != r.losses.end());
}
