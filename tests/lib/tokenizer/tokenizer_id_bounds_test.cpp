// Token ids are bounded by the tokens the file defines: a vocabulary id of 2^28 in a 5-token file
// once took 37 s and 8.6 GB (the id table is sized by the largest id), and 2^31 - 1 failed in
// std::vector naming no file. Both are refused at once, naming the file and the entry.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>

#include "base/error.h"
#include "lib/tokenizer/tokenizer.h"

using namespace kvmix;
using Catch::Contains;
using nlohmann::json;

namespace {

// 4 vocabulary entries and 1 added token: ids 0-4.
json five_tokens() {
  return json::parse(R"({
    "version": "1.0", "truncation": null, "padding": null,
    "added_tokens": [{"id": 4, "content": "<s>", "single_word": false, "lstrip": false,
                      "rstrip": false, "normalized": false, "special": true}],
    "normalizer": null, "pre_tokenizer": null, "post_processor": null, "decoder": null,
    "model": {"type": "BPE", "dropout": null, "unk_token": "<unk>", "fuse_unk": false,
              "byte_fallback": false, "vocab": {"<unk>": 0, "a": 1, "b": 2, "ab": 3},
              "merges": ["a b"]}})");
}

}  // namespace

TEST_CASE("tokenizer ids past the file's token count are refused quickly, naming the file",
          "[tokenizer]") {
  const auto start = std::chrono::steady_clock::now();
  for (int64_t id : {int64_t{5}, int64_t{1} << 28, int64_t{2147483647}}) {
    INFO("id " << id);
    json vocab_id = five_tokens();
    vocab_id["model"]["vocab"]["ab"] = id;
    CHECK_THROWS_WITH(Tokenizer::from_json(vocab_id.dump(), "big.json"),
                      Contains("big.json: model.vocab[\"ab\"]: id " + std::to_string(id)) &&
                          Contains("ids must be below 5"));
    json added_id = five_tokens();
    added_id["added_tokens"][0]["id"] = id;
    CHECK_THROWS_WITH(Tokenizer::from_json(added_id.dump(), "big.json"),
                      Contains("big.json: added_tokens[0].id: id " + std::to_string(id)));
  }
  // Milliseconds, not the tens of seconds an id table of 2^28 entries takes to build.
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));

  // The bound counts both lists, wherever the ids fall: here the added token fills a gap inside
  // the vocabulary's ids and the vocabulary takes the last one.
  json interleaved = five_tokens();
  interleaved["model"]["vocab"]["ab"] = 4;
  interleaved["added_tokens"][0]["id"] = 3;
  CHECK(Tokenizer::from_json(interleaved.dump(), "ok.json").vocab_size() == 5);
}
