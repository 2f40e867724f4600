// The BPE merge loop on small hand-made vocabularies: merge order, unknown characters, byte
// fallback, and the heap-based loop against a naive rescanning reference on random words.
#include <spdlog/fmt/fmt.h>

#include <catch2/catch.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "lib/tokenizer/tokenizer.h"

using namespace kvmix;
using nlohmann::json;

namespace {

// A tokenizer with no normalizer and no pre-tokenizer, so encode() is the BPE model on the text.
Tokenizer bpe(const json& vocab, const json& merges, const json& options = json::object()) {
  json model = {{"type", "BPE"}, {"unk_token", "<unk>"}, {"vocab", vocab}, {"merges", merges}};
  model.update(options);
  const json j = {
      {"added_tokens", json::array()}, {"normalizer", nullptr}, {"pre_tokenizer", nullptr},
      {"post_processor", nullptr},     {"decoder", nullptr},    {"model", model}};
  return Tokenizer::from_json(j.dump(), "test.json");
}

using Ids = std::vector<int64_t>;

// The textbook loop: find the lowest-ranked adjacent pair (the leftmost of equals), merge it,
// rescan. O(n^2) per word, but obviously what BPE means (Sennrich et al., arXiv:1508.07909,
// section 3.2).
std::vector<std::string> naive_bpe(
    const std::string& word, const std::map<std::pair<std::string, std::string>, size_t>& ranks) {
  std::vector<std::string> symbols;
  for (const char c : word) symbols.emplace_back(1, c);
  while (true) {
    size_t best = symbols.size(), best_rank = SIZE_MAX;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      const auto it = ranks.find({symbols[i], symbols[i + 1]});
      if (it != ranks.end() && it->second < best_rank) best = i, best_rank = it->second;
    }
    if (best == symbols.size()) return symbols;
    symbols[best] += symbols[best + 1];
    symbols.erase(symbols.begin() + static_cast<std::ptrdiff_t>(best) + 1);
  }
}

}  // namespace

TEST_CASE("BPE merges the lowest rank first, the leftmost of equal ranks", "[tokenizer]") {
  const json vocab = {{"<unk>", 0}, {"a", 1}, {"b", 2}, {"c", 3}, {"ab", 4}, {"bc", 5}, {"aa", 6}};
  CHECK(bpe(vocab, {"a b", "b c"}).encode("abc", false) == Ids{4, 3});
  CHECK(bpe(vocab, {"b c", "a b"}).encode("abc", false) == Ids{1, 5});
  CHECK(bpe(vocab, {"a a"}).encode("aaa", false) == Ids{6, 1});
  CHECK(bpe(vocab, json::array({json::array({"a", "b"})})).encode("ab", false) == Ids{4});
  // ignore_merges: a word that is a token is taken whole even when no merge path builds it.
  CHECK(bpe(vocab, json::array()).encode("ab", false) == Ids{1, 2});
  CHECK(bpe(vocab, json::array(), {{"ignore_merges", true}}).encode("ab", false) == Ids{4});
}

TEST_CASE("BPE spells unknown characters as the unknown token or their bytes", "[tokenizer]") {
  json vocab = {{"<unk>", 0}, {"a", 1}};
  CHECK(bpe(vocab, json::array()).encode("a\xC3\xA9xy", false) == Ids{1, 0, 0, 0});
  CHECK(bpe(vocab, json::array(), {{"fuse_unk", true}}).encode("a\xC3\xA9xya", false) ==
        Ids{1, 0, 1});
  for (int b = 0; b < 256; ++b) vocab[fmt::format("<0x{:02X}>", b)] = 2 + b;
  const Tokenizer fallback = bpe(vocab, json::array(), {{"byte_fallback", true}});
  CHECK(fallback.encode("a\xC3\xA9", false) == Ids{1, 2 + 0xC3, 2 + 0xA9});  // é is C3 A9
}

TEST_CASE("BPE merge loop agrees with the naive rescanning loop on random words", "[tokenizer]") {
  std::mt19937 rng(20240607);  // fixed seed: the same words on every run
  // A vocabulary grown by random merges over {a, b, c}, as BPE training would list them.
  std::vector<std::string> tokens = {"a", "b", "c"};
  std::map<std::pair<std::string, std::string>, size_t> ranks;
  json merges = json::array();
  while (merges.size() < 60) {
    const std::string left = tokens[rng() % tokens.size()], right = tokens[rng() % tokens.size()];
    if (left.size() + right.size() > 6 ||
        !ranks.emplace(std::pair{left, right}, merges.size()).second)
      continue;
    merges.push_back(left + " " + right);
    if (std::find(tokens.begin(), tokens.end(), left + right) == tokens.end())
      tokens.push_back(left + right);
  }
  json vocab = {{"<unk>", 0}};
  for (size_t i = 0; i < tokens.size(); ++i) vocab[tokens[i]] = i + 1;
  const Tokenizer tok = bpe(vocab, merges);

  for (int trial = 0; trial < 300; ++trial) {
    std::string word(1 + rng() % 400, 'a');  // up to 400 characters: past the 256-byte cache limit
    for (char& c : word) c = static_cast<char>('a' + rng() % 3);
    Ids expected;
    for (const std::string& s : naive_bpe(word, ranks)) expected.push_back(vocab[s].get<int64_t>());
    INFO("word: " << word);
    REQUIRE(tok.encode(word, false) == expected);
    REQUIRE(tok.encode(word, false) == expected);  // the second time from the word cache
  }
}
