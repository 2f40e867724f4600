// Token ids are bounded by the tokens the file defines: a vocabulary id of 2^28 in a 5-token file
// once took 37 s and 8.6 GB (the id table is sized by the largest id), and 2^31 - 1 failed in
// std::vector naming no file. Both are refused at once, naming the file and the entry.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "lib/tokenizer/tokenizer.h"
#include "tests/lib/tokenizer/small_tokenizer.h"

using namespace kvmix;
using Catch::Contains;
using nlohmann::json;

TEST_CASE("tokenizer ids past the file's token count are refused, naming the file",
          "[tokenizer]") {
  for (int64_t id : {int64_t{5}, int64_t{1} << 28, int64_t{2147483647}}) {
    INFO("id " << id);
    json vocab_id = test::small_tokenizer();
    vocab_id["model"]["vocab"]["ab"] = id;
    CHECK_THROWS_WITH(Tokenizer::from_json(vocab_id.dump(), "big.json"),
                      Contains("big.json: model.vocab[\"ab\"]: id " + std::to_string(id)) &&
                          Contains("ids must be below 5"));
    json added_id = test::small_tokenizer();
    added_id["added_tokens"][0]["id"] = id;
    CHECK_THROWS_WITH(Tokenizer::from_json(added_id.dump(), "big.json"),
                      Contains("big.json: added_tokens[0].id: id " + std::to_string(id)));
  }
  // (Refused before the id table is built: an id of 2^28 once took 37 s and 8.6 GB to refuse.)

  // The bound counts both lists, wherever the ids fall: here the added token fills a gap inside
  // the vocabulary's ids and the vocabulary takes the last one.
  json interleaved = test::small_tokenizer();
  interleaved["model"]["vocab"]["ab"] = 4;
  interleaved["added_tokens"][0]["id"] = 3;
  CHECK(Tokenizer::from_json(interleaved.dump(), "ok.json").vocab_size() == 5);
}
