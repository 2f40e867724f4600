#include "lib/tokenizer/pre_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "base/error.h"
#include "lib/tokenizer/byte_level.h"
#include "lib/tokenizer/utf8.h"

namespace kvmix {

const char* const kGpt2SplitPattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

struct SplitRegex::Code {
  pcre2_code* code = nullptr;
  ~Code() { pcre2_code_free(code); }
};

SplitRegex::SplitRegex(const std::string& pattern, const std::string& source) {
  auto code = std::make_shared<Code>();
  int error = 0;
  PCRE2_SIZE offset = 0;
  code->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                             PCRE2_UTF | PCRE2_UCP, &error, &offset, nullptr);
  if (code->code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof message);
    throw Error(fmt::format("{}: Split regex does not compile at offset {}: {} (pattern: {})",
                            source, offset, reinterpret_cast<const char*>(message), pattern));
  }
  // JIT is an optimization only: where it is unavailable pcre2_match interprets the pattern.
  pcre2_jit_compile(code->code, PCRE2_JIT_COMPLETE);
  code_ = std::move(code);
}

void SplitRegex::split(std::string_view text, std::vector<std::string>& pieces) const {
  std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> match(
      pcre2_match_data_create_from_pattern(code_->code, nullptr), &pcre2_match_data_free);
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t last = 0;  // end of the previous piece
  size_t offset = 0;
  while (offset < text.size()) {
    // The caller validated the UTF-8 once; PCRE2 would otherwise re-check it on every call.
    const int rc = pcre2_match(code_->code, subject, text.size(), offset, PCRE2_NO_UTF_CHECK,
                               match.get(), nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    KVMIX_CHECK(rc >= 0, "Split regex failed on the text (PCRE2 error {})", rc);
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match.get());
    const size_t begin = ovector[0], end = ovector[1];
    if (end == begin) {  // an empty match cuts nothing: try again one character further
      offset = begin + utf8_char_size(static_cast<unsigned char>(text[begin]));
      continue;
    }
    if (begin > last) pieces.emplace_back(text.substr(last, begin - last));
    pieces.emplace_back(text.substr(begin, end - begin));
    last = offset = end;
  }
  if (last < text.size()) pieces.emplace_back(text.substr(last));
}

namespace {

void split_all(const std::vector<SplitRegex>& regexes, std::vector<std::string>& pieces) {
  for (const SplitRegex& regex : regexes) {
    std::vector<std::string> next;
    for (const std::string& piece : pieces) regex.split(piece, next);
    pieces.swap(next);
  }
}

}  // namespace

std::vector<std::string> PreTokenizer::split(std::string_view text) const {
  std::vector<std::string> pieces{std::string(text)};
  split_all(splits, pieces);
  if (!byte_level) return pieces;
  if (add_prefix_space) {
    for (std::string& piece : pieces) {
      if (piece.empty() || piece.front() != ' ') piece.insert(piece.begin(), ' ');
    }
  }
  split_all(byte_level_regex, pieces);
  for (std::string& piece : pieces) piece = byte_level_encode(piece);
  return pieces;
}

}  // namespace kvmix
