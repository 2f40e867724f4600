// The encode/decode pipeline over a loaded tokenizer (see tokenizer_json.cpp for loading).
#include "lib/tokenizer/tokenizer.h"

#include <algorithm>

#include "base/error.h"
#include "lib/tokenizer/tokenizer_impl.h"
#include "lib/tokenizer/utf8.h"

namespace kvmix {

std::vector<int64_t> Tokenizer::encode(const std::string& text, bool add_special_tokens,
                                       SpecialTokensInText special) const {
  const size_t valid = utf8_valid_prefix(text);
  KVMIX_CHECK(valid == text.size(),
              "text to encode is not valid UTF-8 (first bad byte at offset {})", valid);
  const Impl& t = *impl_;
  std::vector<int64_t> ids;
  if (add_special_tokens) ids = t.template_prefix;
  for (const auto& segment : t.added.split(text, special == SpecialTokensInText::kMatch)) {
    if (segment.token != nullptr) {
      ids.push_back(segment.token->id);
      continue;
    }
    // Each stretch between added tokens is normalized on its own, as HF tokenizers does: so
    // Llama-2's "▁" is prepended after every added token, not just at the start of the text.
    const std::string normalized = t.normalizer.apply(std::string(segment.text));
    if (normalized.empty()) continue;
    for (const std::string& word : t.pre_tokenizer.split(normalized))
      t.model->encode_word(word, ids);
  }
  if (add_special_tokens) ids.insert(ids.end(), t.template_suffix.begin(), t.template_suffix.end());
  return ids;
}

std::string Tokenizer::decode(const std::vector<int64_t>& ids, bool skip_special_tokens) const {
  const Impl& t = *impl_;
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (const int64_t id : ids) {
    // An added token's content wins over the model's token with the same id, as in HF tokenizers.
    if (const AddedToken* added = t.added.by_id(id)) {
      if (!(skip_special_tokens && added->special)) tokens.push_back(added->content);
    } else if (const std::string* token = t.model->token(id)) {
      tokens.push_back(*token);
    } else {
      throw Error(fmt::format("cannot decode token id {}: no token has it (vocab_size {})", id,
                              vocab_size()));
    }
  }
  return t.decoder.decode(std::move(tokens), [&t](const std::string& token) {
    return t.added.by_content(token) != nullptr;
  });
}

int64_t Tokenizer::vocab_size() const {
  int64_t size = impl_->model->size();
  for (const AddedToken& token : impl_->added.all()) size = std::max(size, token.id + 1);
  return size;
}

std::optional<int64_t> Tokenizer::token_id(const std::string& token) const {
  if (const AddedToken* added = impl_->added.by_content(token)) return added->id;
  if (const auto id = impl_->model->token_id(token)) return *id;
  return std::nullopt;
}

std::optional<std::string> Tokenizer::token(int64_t id) const {
  if (const AddedToken* added = impl_->added.by_id(id)) return added->content;
  if (const std::string* token = impl_->model->token(id)) return *token;
  return std::nullopt;
}

int64_t Tokenizer::bos_id() const { return impl_->bos_id; }

std::vector<int64_t> Tokenizer::eos_ids() const { return impl_->eos_ids; }

}  // namespace kvmix
