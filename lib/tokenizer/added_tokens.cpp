#include "lib/tokenizer/added_tokens.h"

#include "base/error.h"

namespace kvmix {

AddedTokens::AddedTokens(std::vector<AddedToken> tokens, const std::string& source)
    : tokens_(std::move(tokens)) {
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const AddedToken& token = tokens_[i];
    KVMIX_CHECK(!token.content.empty(), "{}: added_tokens[{}] (id {}) has empty content", source, i,
                token.id);
    KVMIX_CHECK(by_id_.emplace(token.id, i).second, "{}: added_tokens: id {} is used twice", source,
                token.id);
    KVMIX_CHECK(by_content_.emplace(token.content, i).second,
                "{}: added_tokens: \"{}\" is listed twice", source, token.content);
    int32_t node = 0;
    for (const char c : token.content) {
      const auto byte = static_cast<unsigned char>(c);
      auto it = trie_[node].next.find(byte);
      if (it == trie_[node].next.end()) {
        it = trie_[node].next.emplace(byte, static_cast<int32_t>(trie_.size())).first;
        trie_.emplace_back();
      }
      node = it->second;
    }
    trie_[node].token = static_cast<int32_t>(i);
  }
}

std::vector<AddedTokens::Segment> AddedTokens::split(std::string_view text,
                                                     bool match_special) const {
  std::vector<Segment> segments;
  size_t plain_start = 0;  // start of the ordinary text not yet emitted
  for (size_t i = 0; i < text.size();) {
    // The longest allowed token starting at i.
    const AddedToken* match = nullptr;
    size_t match_end = i;
    int32_t node = 0;
    for (size_t j = i; j < text.size(); ++j) {
      const auto it = trie_[node].next.find(static_cast<unsigned char>(text[j]));
      if (it == trie_[node].next.end()) break;
      node = it->second;
      const int32_t t = trie_[node].token;
      if (t >= 0 && (match_special || !tokens_[t].special)) {
        match = &tokens_[t];
        match_end = j + 1;
      }
    }
    if (match == nullptr) {
      ++i;
      continue;
    }
    if (i > plain_start) segments.push_back({text.substr(plain_start, i - plain_start), nullptr});
    segments.push_back({text.substr(i, match_end - i), match});
    i = plain_start = match_end;
  }
  if (plain_start < text.size()) segments.push_back({text.substr(plain_start), nullptr});
  return segments;
}

const AddedToken* AddedTokens::by_id(int64_t id) const {
  const auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

const AddedToken* AddedTokens::by_content(const std::string& content) const {
  const auto it = by_content_.find(content);
  return it == by_content_.end() ? nullptr : &tokens_[it->second];
}

}  // namespace kvmix
