#pragma once
// The BPE model of a tokenizer.json (HF tokenizers src/models/bpe/{model,word}.rs): a word is split
// into characters, then adjacent pairs are merged, always the pair of lowest merge rank first (the
// leftmost among equal ranks), until no listed pair is left. A character missing from the
// vocabulary becomes its UTF-8 bytes as <0xXX> tokens when byte_fallback is on (SentencePiece's
// byte fallback), else the unknown token.
#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace kvmix {

struct BpeOptions {
  std::optional<int32_t> unk_id;  // model.unk_token, when it names a token
  bool fuse_unk = false;          // consecutive unknown characters become one unknown token
  bool byte_fallback = false;
  bool ignore_merges = false;  // a word that is itself a token is taken whole (Llama-3)
};

class BpeModel {
 public:
  // `merges` are token pairs in rank order. Throws kvmix::Error naming `source` when a merge names
  // a token, or makes one, that is not in `vocab`, or when two tokens share an id.
  BpeModel(std::unordered_map<std::string, int32_t> vocab,
           const std::vector<std::pair<std::string, std::string>>& merges, BpeOptions options,
           const std::string& source);
  BpeModel(const BpeModel&) = delete;
  BpeModel& operator=(const BpeModel&) = delete;

  // Appends the ids of one pre-tokenized word. Results for words shorter than kMaxCachedBytes are
  // cached (up to kCacheCapacity words), since running text repeats its words.
  void encode_word(const std::string& word, std::vector<int64_t>& ids) const;

  std::optional<int32_t> token_id(const std::string& token) const;
  const std::string* token(int64_t id) const;  // nullptr when no token has this id
  int64_t size() const { return static_cast<int64_t>(tokens_.size()); }  // largest id + 1

  // True when every byte has a <0xXX> token, so byte fallback can spell any character.
  bool has_all_byte_tokens() const { return has_all_byte_tokens_; }
  const BpeOptions& options() const { return options_; }

  // HF tokenizers' limits for its word cache (src/models/bpe/model.rs, src/utils/cache.rs).
  static constexpr size_t kMaxCachedBytes = 256;
  static constexpr size_t kCacheCapacity = 10000;

 private:
  struct Merge {
    int32_t rank;
    int32_t id;  // the merged token
  };
  static uint64_t pair_key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }
  std::vector<int32_t> initial_symbols(const std::string& word) const;
  std::vector<int32_t> merge_word(const std::string& word) const;

  std::unordered_map<std::string, int32_t> vocab_;
  std::vector<std::string> tokens_;             // [largest id + 1], "" where no token has the id
  std::vector<bool> has_token_;                 // [largest id + 1]
  std::unordered_map<uint64_t, Merge> merges_;  // (left id, right id) -> merge
  std::array<int32_t, 256> byte_ids_;           // <0xXX> token ids, -1 when missing
  bool has_all_byte_tokens_;
  BpeOptions options_;

  mutable std::mutex cache_mutex_;  // encode is const and may run on several threads
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

}  // namespace kvmix
