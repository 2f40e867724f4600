#include "lib/tokenizer/bpe.h"

#include <algorithm>
#include <functional>
#include <queue>
#include <tuple>

#include "base/error.h"
#include "lib/tokenizer/utf8.h"

namespace kvmix {

BpeModel::BpeModel(std::unordered_map<std::string, int32_t> vocab,
                   const std::vector<std::pair<std::string, std::string>>& merges,
                   BpeOptions options, const std::string& source)
    : vocab_(std::move(vocab)), options_(options) {
  int32_t largest = -1;
  for (const auto& [token, id] : vocab_) largest = std::max(largest, id);
  tokens_.resize(static_cast<size_t>(largest) + 1);  // largest + 1 in int32 overflows at 2^31 - 1
  has_token_.resize(tokens_.size());
  for (const auto& [token, id] : vocab_) {
    KVMIX_CHECK(!has_token_[id], "{}: model.vocab: id {} is given to both \"{}\" and \"{}\"",
                source, id, tokens_[id], token);
    tokens_[id] = token;
    has_token_[id] = true;
  }
  merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    // Plain references: a lambda may not capture a structured binding before C++20.
    const std::string& left = merges[rank].first;
    const std::string& right = merges[rank].second;
    const auto missing = [&](const std::string& what) {
      return Error(fmt::format("{}: model.merges[{}] (\"{}\" \"{}\"): {} is not in model.vocab",
                               source, rank, left, right, what));
    };
    const auto l = vocab_.find(left);
    if (l == vocab_.end()) throw missing("\"" + left + "\"");
    const auto r = vocab_.find(right);
    if (r == vocab_.end()) throw missing("\"" + right + "\"");
    const auto m = vocab_.find(left + right);
    if (m == vocab_.end()) throw missing("the merged token \"" + left + right + "\"");
    // A repeated pair takes its last rank, as in HF tokenizers and transformers.js (map insertion).
    merges_.insert_or_assign(pair_key(l->second, r->second),
                             Merge{static_cast<int32_t>(rank), m->second});
  }
  has_all_byte_tokens_ = true;
  for (int b = 0; b < 256; ++b) {
    const auto it = vocab_.find(fmt::format("<0x{:02X}>", b));
    byte_ids_[b] = it == vocab_.end() ? -1 : it->second;
    has_all_byte_tokens_ = has_all_byte_tokens_ && byte_ids_[b] >= 0;
  }
}

std::optional<int32_t> BpeModel::token_id(const std::string& token) const {
  const auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::token(int64_t id) const {
  if (id < 0 || id >= size() || !has_token_[id]) return nullptr;
  return &tokens_[id];
}

// One symbol per character; a character outside the vocabulary becomes its byte tokens or the
// unknown token (HF tokenizers BPE::merge_word).
std::vector<int32_t> BpeModel::initial_symbols(const std::string& word) const {
  std::vector<int32_t> symbols;
  symbols.reserve(word.size());
  std::string character;
  bool after_unk = false;
  for (size_t i = 0; i < word.size();) {
    const size_t n = utf8_char_size(static_cast<unsigned char>(word[i]));
    character.assign(word, i, n);
    i += n;
    if (const auto it = vocab_.find(character); it != vocab_.end()) {
      symbols.push_back(it->second);
      after_unk = false;
      continue;
    }
    if (options_.byte_fallback && std::all_of(character.begin(), character.end(), [&](char byte) {
          return byte_ids_[static_cast<uint8_t>(byte)] >= 0;
        })) {
      for (const char byte : character) symbols.push_back(byte_ids_[static_cast<uint8_t>(byte)]);
      after_unk = false;
      continue;
    }
    // The loader only accepts a tokenizer that can spell every character some way.
    KVMIX_ASSERT(options_.unk_id.has_value(), "no token for a character and no unknown token");
    if (!(options_.fuse_unk && after_unk)) symbols.push_back(*options_.unk_id);
    after_unk = true;
  }
  return symbols;
}

// Rank-ordered merging with a heap over candidate pairs and a linked list of live symbols: each
// merge costs O(log n), instead of rescanning the word for the best pair (HF tokenizers
// Word::merge_all).
std::vector<int32_t> BpeModel::merge_word(const std::string& word) const {
  if (options_.ignore_merges) {
    if (const auto it = vocab_.find(word); it != vocab_.end()) return {it->second};
  }
  struct Symbol {
    int32_t id;  // -1 once merged into its left neighbour
    int32_t prev, next;
  };
  std::vector<Symbol> symbols;
  for (const int32_t id : initial_symbols(word)) {
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back({id, index - 1, -1});
    if (index > 0) symbols[index - 1].next = index;
  }
  using Candidate = std::tuple<int32_t, int32_t, int32_t>;  // rank, position, merged id
  std::vector<Candidate> storage;
  storage.reserve(symbols.size());
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue(std::greater<>(),
                                                                               std::move(storage));
  const auto push_pair = [&](int32_t pos) {
    if (pos < 0 || symbols[pos].next < 0) return;
    const auto it = merges_.find(pair_key(symbols[pos].id, symbols[symbols[pos].next].id));
    if (it != merges_.end()) queue.emplace(it->second.rank, pos, it->second.id);
  };
  for (int32_t pos = 0; pos + 1 < static_cast<int32_t>(symbols.size()); ++pos) push_pair(pos);

  while (!queue.empty()) {
    const auto [rank, pos, merged] = queue.top();
    queue.pop();
    Symbol& left = symbols[pos];
    if (left.id < 0 || left.next < 0) continue;  // stale: the symbol or its neighbour changed
    const auto it = merges_.find(pair_key(left.id, symbols[left.next].id));
    if (it == merges_.end() || it->second.id != merged) continue;
    Symbol& right = symbols[left.next];
    left.id = merged;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = pos;
    right.id = -1;
    push_pair(left.prev);
    push_pair(pos);
  }
  std::vector<int32_t> ids;
  for (int32_t pos = symbols.empty() ? -1 : 0; pos >= 0; pos = symbols[pos].next) {
    ids.push_back(symbols[pos].id);
  }
  return ids;
}

void BpeModel::encode_word(const std::string& word, std::vector<int64_t>& ids) const {
  const bool cacheable = word.size() < kMaxCachedBytes;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (const auto it = cache_.find(word); it != cache_.end()) {
      ids.insert(ids.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> merged = merge_word(word);
  ids.insert(ids.end(), merged.begin(), merged.end());
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cache_.size() < kCacheCapacity) cache_.emplace(word, std::move(merged));
  }
}

}  // namespace kvmix
