// llama.cpp lowering: one -ctk/-ctv for all layers, the per-layer needs as comments, and the loss
// lists of the small config and of a uniform K4V2.
#include "lib/export/llamacpp_flags.h"

#include <catch2/catch.hpp>
#include <spdlog/fmt/fmt.h>

#include "tests/lib/export/small_config.h"

using namespace kvmix;

TEST_CASE("llamacpp: an fp16 layer forces f16 for every layer", "[export]") {
  const KvConfig c = test::small_config();
  const ExportResult r = export_llamacpp(c);
  CHECK(r.file_name == "llamacpp_flags.txt");
  CHECK(r.text ==
        "-ctk f16 -ctv f16\n"
        "# llama.cpp applies one -ctk/-ctv to every layer; the per-layer types this config needs:\n"
        "#   layer 0: -ctk f16 -ctv f16\n"
        "#   layer 1: -ctk q8_0 -ctv q4_1\n"
        "#   layer 2: -ctk q4_1 -ctv q4_1\n"
        "#   layer 3: -ctk q8_0 -ctv q8_0\n");
  const double ours = total_bytes_per_token(c, 4096);
  const std::vector<std::string> expected = {
      "layers 1-3: less precise types than -ctk f16 -ctv f16 would do, but llama.cpp has one type "
      "for all layers: they lose compression",
      "layer 2: keys or values below 4 bits (2-bit, ternary...) are not representable; the "
      "smallest ggml cache types are q4_0/q4_1",
      "layers 1-3: per-channel groups (KIVI's keys: tokens of one channel share a scale) become "
      "ggml blocks of 32 channels of one token",
      // 4 layers x (16 + 16) bits x 64 elements / 8.
      fmt::format("memory: about 1024 bytes per token in llama.cpp (f16/f16) against {:.0f} true "
                  "bytes in kvmix at 4096 tokens (+{:.0f}%)",
                  ours, 100.0 * (1024.0 / ours - 1.0)),
  };
  CHECK(r.losses == expected);
}

TEST_CASE("llamacpp: uniform kivi K4V2 becomes q4_1 with flash attention", "[export]") {
  const KvConfig c = test::uniform_config(Scheme::kKivi, {4, 2});
  const ExportResult r = export_llamacpp(c);
  CHECK(r.text ==
        "-ctk q4_1 -ctv q4_1\n"
        "# llama.cpp applies one -ctk/-ctv to every layer; the per-layer types this config needs:\n"
        "#   layers 0-3: -ctk q4_1 -ctv q4_1\n"
        "# a quantized V cache needs flash attention: add -fa (-fa on in newer builds)\n");
  const double ours = total_bytes_per_token(c, 4096);
  const std::vector<std::string> expected = {
      "layers 0-3: keys or values below 4 bits (2-bit, ternary...) are not representable; the "
      "smallest ggml cache types are q4_0/q4_1",
      "layers 0-3: per-channel groups (KIVI's keys: tokens of one channel share a scale) become "
      "ggml blocks of 32 channels of one token",
      "residual window dropped: kvmix keeps up to the newest 32 tokens in the model dtype, "
      "llama.cpp quantizes every token as it is stored",
      // q4_1: (fp16 scale + fp16 min + 32 x 4 bits) / 32 = 5 bits; 4 x (5 + 5) x 64 / 8 = 320.
      fmt::format("memory: about 320 bytes per token in llama.cpp (q4_1/q4_1) against {:.0f} true "
                  "bytes in kvmix at 4096 tokens (+{:.0f}%)",
                  ours, 100.0 * (320.0 / ours - 1.0)),
  };
  CHECK(r.losses == expected);
}

TEST_CASE("llamacpp: first and last layers kept at 8 bits show as their own ranges", "[export]") {
  KvConfig c = test::uniform_config(Scheme::kPerToken, {4, 4});
  c.layers.front() = {key_format(Scheme::kPerToken, 8), value_format(Scheme::kPerToken, 8)};
  c.layers.back() = c.layers.front();
  const ExportResult r = export_llamacpp(c);
  CHECK(r.text.rfind("-ctk q8_0 -ctv q8_0\n", 0) == 0);
  CHECK(r.text.find("#   layer 0: -ctk q8_0 -ctv q8_0\n#   layers 1-2: -ctk q4_1 -ctv q4_1\n"
                    "#   layer 3: -ctk q8_0 -ctv q8_0\n") != std::string::npos);
  CHECK(r.losses.at(0).rfind("layers 1-2: less precise types than -ctk q8_0 -ctv q8_0", 0) == 0);
}
