#pragma once
// Decoders of a tokenizer.json (HF tokenizers src/decoders/): they turn token strings back into
// text. Supported: ByteLevel (GPT-2, Llama-3, Qwen2/3) and the SentencePiece-style chain of Llama-2
// and Mistral: Replace "▁" -> " ", ByteFallback, Fuse, Strip (one leading space).
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace kvmix {

struct DecoderStep {
  enum class Kind { kByteLevel, kReplace, kByteFallback, kFuse, kStrip };
  Kind kind;
  std::string pattern;  // kReplace: literal string to find
  std::string content;  // kReplace: replacement; kStrip: the character to strip
  size_t start = 0;     // kStrip: at most this many leading `content` characters go
  size_t stop = 0;      // kStrip: at most this many trailing ones
};

struct Decoder {
  bool present = false;  // tokenizer.json's "decoder" is not null
  std::vector<DecoderStep> steps;

  // The text of `tokens`. `is_added` tells added tokens apart: ByteLevel copies them verbatim
  // rather than reading them as byte spellings (as transformers.js does; for ASCII added tokens it
  // is the same as HF tokenizers). Without a decoder, tokens are joined with spaces, as in HF
  // tokenizers.
  std::string decode(std::vector<std::string> tokens,
                     const std::function<bool(const std::string&)>& is_added) const;
};

}  // namespace kvmix
