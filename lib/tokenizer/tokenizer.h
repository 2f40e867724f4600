#pragma once
// Text <-> token ids for the models kvmix runs, read from a Hugging Face tokenizer.json: BPE
// models, either byte-level (GPT-2, Llama-3, Qwen2/3, and kvmix's built-in model) or
// SentencePiece-style (Llama-2, Mistral). Encoding follows HF tokenizers' pipeline (docs: "The
// tokenization pipeline"):
//   added tokens are cut out of the raw text -> each other stretch is normalized -> pre-tokenized
//   into words -> each word BPE-encoded -> the post-processor's template adds BOS/EOS.
// A tokenizer.json using any component or option outside that set is refused at load time, with an
// error that names the file and the field, rather than encoded differently from the reference.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kvmix {

// Whether added tokens marked "special" are recognised inside the text being encoded. Matching them
// is HF's default; kAsText encodes e.g. "<|endoftext|>" in user data as ordinary characters
// (transformers' split_special_tokens=True). Non-special added tokens are matched either way.
enum class SpecialTokensInText { kMatch, kAsText };

class Tokenizer {
 public:
  // Loads `path` (a tokenizer.json). bos_id() and eos_ids() come from tokenizer_config.json in the
  // same folder when it exists (its bos_token / eos_token), else from the post-processor's
  // template. Throws kvmix::Error naming the file on any problem.
  static Tokenizer from_file(const std::string& path);
  // The same from JSON text; `source` names it in errors. No tokenizer_config.json is read.
  static Tokenizer from_json(const std::string& json, const std::string& source);

  // `text` must be UTF-8 (kvmix::Error otherwise). add_special_tokens applies the post-processor's
  // template (Llama-2: BOS first; Llama-3's and Qwen's files add nothing).
  std::vector<int64_t> encode(const std::string& text, bool add_special_tokens,
                              SpecialTokensInText special = SpecialTokensInText::kMatch) const;
  // Throws kvmix::Error for an id outside [0, vocab_size()) or one no token has.
  std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens) const;

  int64_t vocab_size() const;  // largest token id + 1, added tokens included
  std::optional<int64_t> token_id(const std::string& token) const;
  std::optional<std::string> token(int64_t id) const;
  int64_t bos_id() const;  // -1 when the tokenizer has none
  std::vector<int64_t> eos_ids() const;

  struct Impl;

 private:
  explicit Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  // Immutable once loaded (only the BPE word cache changes, under its mutex), so copies of a
  // Tokenizer share it and encode/decode may run on several threads at once.
  std::shared_ptr<const Impl> impl_;
};

}  // namespace kvmix
