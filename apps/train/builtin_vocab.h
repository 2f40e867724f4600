#pragma once
// The built-in model's vocabulary: one token per byte (id = byte value), then three special
// tokens. Its tokenizer.json describes exactly this as a byte-level BPE with no merges, so the
// model goes through the same tokenizer code as any Hugging Face checkpoint.
#include <cstdint>
#include <string>
#include <vector>

namespace kvmix::builtin {

constexpr int64_t kBos = 256;
constexpr int64_t kEos = 257;
constexpr int64_t kPad = 258;
constexpr int64_t kVocab = 259;

inline std::vector<int64_t> bytes_to_ids(const std::string& s) {
  std::vector<int64_t> ids;
  ids.reserve(s.size());
  for (unsigned char c : s) ids.push_back(c);
  return ids;
}

inline std::string ids_to_bytes(const std::vector<int64_t>& ids) {
  std::string s;
  for (int64_t id : ids)
    if (id >= 0 && id < 256) s.push_back(static_cast<char>(id));
  return s;
}

// tokenizer.json (Hugging Face tokenizers format) for this vocabulary.
std::string tokenizer_json();

}  // namespace kvmix::builtin
