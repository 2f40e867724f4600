#pragma once
// Normalizers of a tokenizer.json (HF tokenizers src/normalizers/), applied in order to each
// stretch of text between added tokens. Supported: NFC (Qwen2/3), and the SentencePiece-style pair
// of Llama-2 and Mistral: Prepend "▁" then Replace " " -> "▁", which turns "Hello world" into
// "▁Hello▁world".
#include <string>
#include <vector>

namespace kvmix {

struct NormalizerStep {
  enum class Kind { kNfc, kPrepend, kReplace };
  Kind kind;
  std::string text;         // kPrepend: the prefix; kReplace: the literal string to find
  std::string replacement;  // kReplace
};

struct Normalizer {
  std::vector<NormalizerStep> steps;

  // `text` must be valid UTF-8.
  std::string apply(std::string text) const;
};

// Replaces every occurrence of `from` (non-empty) by `to`, left to right. HF tokenizers' Replace is
// both a normalizer and a decoder (src/normalizers/replace.rs); both use this.
std::string replace_all(const std::string& text, const std::string& from, const std::string& to);

}  // namespace kvmix
