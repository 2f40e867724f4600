#pragma once
// Added tokens (tokenizer.json "added_tokens"): strings matched in the raw text before
// normalization and pre-tokenization, so that "<|begin_of_text|>" becomes one id instead of a dozen
// pieces. Matching is leftmost-longest, as in HF tokenizers (src/tokenizer/added_vocabulary.rs, an
// Aho-Corasick automaton with MatchKind::LeftmostLongest) and transformers.js (DictionarySplitter).
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kvmix {

struct AddedToken {
  std::string content;
  int64_t id;
  bool special;  // a control token: skipped by decode(skip_special_tokens), and matched in text
                 // only when the caller allows it
};

class AddedTokens {
 public:
  AddedTokens() = default;
  // Throws kvmix::Error naming `source` when two tokens share an id or a content, or one is empty.
  AddedTokens(std::vector<AddedToken> tokens, const std::string& source);

  struct Segment {
    std::string_view text;
    const AddedToken* token;  // the added token this segment is, or nullptr for ordinary text
  };
  // `text` cut into ordinary stretches and added tokens; special ones only when `match_special`.
  std::vector<Segment> split(std::string_view text, bool match_special) const;

  const AddedToken* by_id(int64_t id) const;
  const AddedToken* by_content(const std::string& content) const;
  const std::vector<AddedToken>& all() const { return tokens_; }

 private:
  struct Node {
    std::unordered_map<unsigned char, int32_t> next;
    int32_t token = -1;  // index into tokens_ of the token ending here
  };
  std::vector<AddedToken> tokens_;
  std::vector<Node> trie_{Node{}};  // a byte trie over the contents; node 0 is the root
  std::unordered_map<int64_t, size_t> by_id_;
  std::unordered_map<std::string, size_t> by_content_;
};

}  // namespace kvmix
