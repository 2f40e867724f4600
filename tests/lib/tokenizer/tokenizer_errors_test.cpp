// Bad tokenizer files and bad input: each is a kvmix::Error that names the file and the field.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "lib/tokenizer/tokenizer.h"
#include "tests/lib/tokenizer/small_tokenizer.h"

using namespace kvmix;
using nlohmann::json;

namespace {

// Matches a kvmix::Error whose message contains `text`.
class MessageContains : public Catch::MatcherBase<Error> {
 public:
  explicit MessageContains(std::string text) : text_(std::move(text)) {}
  bool match(const Error& e) const override {
    return std::string(e.what()).find(text_) != std::string::npos;
  }
  std::string describe() const override { return "has a message containing \"" + text_ + "\""; }

 private:
  std::string text_;
};

const std::string kBad = KVMIX_SOURCE_DIR "/tests/fixtures/tokenizer/bad/";


}  // namespace

TEST_CASE("bad tokenizer files are errors naming the file and the field", "[tokenizer]") {
  CHECK_THROWS_MATCHES(Tokenizer::from_file(kBad + "no_such_file.json"), Error,
                       MessageContains("no_such_file.json"));
  CHECK_THROWS_MATCHES(Tokenizer::from_file(kBad + "invalid_json.json"), Error,
                       MessageContains("invalid_json.json: not valid JSON"));
  // A number past double's range is nlohmann's out_of_range, not a parse_error (a fuzz finding).
  CHECK_THROWS_MATCHES(Tokenizer::from_file(kBad + "number_overflow.json"), Error,
                       MessageContains("number_overflow.json: not valid JSON"));
  CHECK_THROWS_MATCHES(
      Tokenizer::from_file(kBad + "unsupported_model.json"), Error,
      MessageContains("unsupported_model.json: model.type: unsupported type \"WordPiece\""));
  CHECK_THROWS_MATCHES(
      Tokenizer::from_file(kBad + "unsupported_pre_tokenizer.json"), Error,
      MessageContains(
          "unsupported_pre_tokenizer.json: pre_tokenizer.type: unsupported type \"Metaspace\""));
  CHECK_THROWS_MATCHES(
      Tokenizer::from_file(kBad + "unknown_merge_token.json"), Error,
      MessageContains(
          "unknown_merge_token.json: model.merges[1] (\"a\" \"c\"): \"c\" is not in model.vocab"));
}

TEST_CASE("unsupported or inconsistent tokenizer.json fields are refused by name", "[tokenizer]") {
  struct Case {
    const char* pointer;  // JSON pointer of the field the case sets
    const char* value;    // its new value, as JSON
    const char* message;  // what the error must say
  };
  const Case c = GENERATE(values<Case>({
      {"/truncation", R"({"max_length": 8})", "truncation: unsupported"},
      {"/model/type", R"("Unigram")", "model.type: unsupported type \"Unigram\""},
      {"/model/dropout", "0.1", "model.dropout: must be null"},
      {"/model/vocab/a", R"("one")", "model.vocab[\"a\"]: expected an integer"},
      {"/model/vocab/b", "1", "model.vocab: id 1 is given to both"},
      {"/model/merges/0", R"("a b c")", "model.merges[0]: \"a b c\" is not two tokens"},
      {"/model/merges/0", R"(["a", "z"])",
       "model.merges[0] (\"a\" \"z\"): \"z\" is not in model.vocab"},
      {"/model/merges/0", R"("b b")",
       "model.merges[0] (\"b\" \"b\"): the merged token \"bb\" is not in model.vocab"},
      {"/model/unk_token", "null", "model: some text could not be encoded"},
      {"/model/continuing_subword_prefix", R"("##")",
       "model.continuing_subword_prefix: unsupported"},
      {"/normalizer", R"({"type": "Lowercase"})",
       "normalizer.type: unsupported type \"Lowercase\""},
      {"/normalizer", R"({"type": "Replace", "pattern": {"Regex": " "}, "content": "_"})",
       "normalizer.pattern: only {\"String\": ...}"},
      {"/pre_tokenizer", R"({"type": "Whitespace"})",
       "pre_tokenizer.type: unsupported type \"Whitespace\""},
      {"/pre_tokenizer",
       R"({"type": "Split", "pattern": {"Regex": "a"}, "behavior": "Removed", "invert": false})",
       "pre_tokenizer.behavior: unsupported \"Removed\""},
      {"/pre_tokenizer",
       R"({"type": "Split", "pattern": {"Regex": "(a"}, "behavior": "Isolated", "invert": false})",
       "pre_tokenizer: Split regex does not compile"},
      {"/pre_tokenizer", R"({"type": "ByteLevel", "use_regex": true})",
       "pre_tokenizer: field \"add_prefix_space\" is missing"},
      {"/pre_tokenizer",
       R"({"type": "Sequence", "pretokenizers": [{"type": "ByteLevel", "add_prefix_space": false},
                                                          {"type": "ByteLevel", "add_prefix_space": false}]})",
       "pre_tokenizer.pretokenizers[1]: unsupported: a pre-tokenizer after ByteLevel"},
      {"/post_processor", R"({"type": "BertProcessing", "sep": ["</s>", 2], "cls": ["<s>", 1]})",
       "post_processor.type: unsupported type \"BertProcessing\""},
      {"/post_processor",
       R"({"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<x>", "type_id": 0}},
         {"Sequence": {"id": "A", "type_id": 0}}], "special_tokens": {}})",
       "post_processor.special_tokens: field \"<x>\" is missing"},
      {"/post_processor",
       R"({"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<x>", "type_id": 0}},
         {"Sequence": {"id": "A", "type_id": 0}}], "special_tokens": {"<x>": {"id": "<x>", "ids": [99]}}})",
       "post_processor: the template's id 99 is no token"},
      {"/decoder", R"({"type": "Metaspace", "replacement": "_"})",
       "decoder.type: unsupported type \"Metaspace\""},
      {"/added_tokens/0/lstrip", "true", "added_tokens[0].lstrip: unsupported true"},
      {"/added_tokens/0/content", R"("")", "added_tokens[0] (id 4) has empty content"},
  }));
  json j = test::small_tokenizer();
  REQUIRE_NOTHROW(Tokenizer::from_json(j.dump(), "valid.json"));
  j[json::json_pointer(c.pointer)] = json::parse(c.value);
  INFO("set " << c.pointer << " = " << c.value);
  CHECK_THROWS_MATCHES(Tokenizer::from_json(j.dump(), "case.json"), Error,
                       MessageContains(std::string("case.json: ") + c.message));
}

TEST_CASE("bad text and bad ids are errors", "[tokenizer]") {
  const Tokenizer tok = Tokenizer::from_json(test::small_tokenizer().dump(), "valid.json");
  CHECK(tok.encode("ab<s>b", false) == std::vector<int64_t>{3, 4, 2});
  CHECK_THROWS_MATCHES(tok.encode("a\xC3", false), Error,
                       MessageContains("not valid UTF-8 (first bad byte at offset 1)"));
  CHECK_THROWS_MATCHES(tok.encode("a\xED\xA0\x80", false), Error,
                       MessageContains("not valid UTF-8"));
  CHECK_THROWS_MATCHES(tok.decode({3, 5}, false), Error, MessageContains("token id 5"));
  CHECK_THROWS_MATCHES(tok.decode({-1}, false), Error, MessageContains("token id -1"));
}
