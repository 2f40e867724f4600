#pragma once
// Pre-tokenization: cutting normalized text into words before BPE, as HF tokenizers does it
// (src/pre_tokenizers/{split,byte_level,sequence}.rs). Supported: a Sequence of Split
// pre-tokenizers (a regex, behavior "Isolated", invert false) followed by at most one ByteLevel
// pre-tokenizer, which must be last. That covers GPT-2 (ByteLevel with its own regex), Llama-3 and
// Qwen2/3 (Split, then ByteLevel without regex), and SentencePiece-style files (no pre-tokenizer:
// the text is one word).
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kvmix {

// A regex compiled with PCRE2 (UTF and UCP, so \s, \p{L} and \p{N} are Unicode classes as in the
// Oniguruma regexes of HF tokenizers), and JIT-compiled where PCRE2 supports it.
class SplitRegex {
 public:
  // Throws kvmix::Error naming `source` when `pattern` does not compile.
  SplitRegex(const std::string& pattern, const std::string& source);

  // "Isolated" split: every match and every stretch between matches is a piece, in order. `text`
  // must be valid UTF-8. Empty matches are skipped.
  void split(std::string_view text, std::vector<std::string>& pieces) const;

 private:
  struct Code;
  std::shared_ptr<const Code> code_;
};

// GPT-2's regex, used by a ByteLevel pre-tokenizer with use_regex (HF tokenizers byte_level.rs).
extern const char* const kGpt2SplitPattern;

struct PreTokenizer {
  std::vector<SplitRegex>
      splits;  // Split pre-tokenizers in order, each cutting every piece further
  // A ByteLevel pre-tokenizer, last: per piece, prepend ' ' when add_prefix_space and the piece
  // lacks one, cut it with GPT-2's regex when use_regex, then spell the bytes in GPT-2's alphabet.
  bool byte_level = false;
  bool add_prefix_space = false;
  std::vector<SplitRegex> byte_level_regex;  // GPT-2's regex when use_regex, else empty

  // The words of one normalized section of text (valid UTF-8), ready for the model.
  std::vector<std::string> split(std::string_view text) const;
};

}  // namespace kvmix
