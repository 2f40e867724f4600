#pragma once
// UTF-8 as the Unicode standard defines it (Unicode 15, section 3.9, table 3-7): no overlong forms,
// no surrogates, nothing above U+10FFFF. Tokenizers take and return UTF-8 text.
#include <cstddef>
#include <string>
#include <string_view>

namespace kvmix {

// Length of the longest prefix of `s` that is well-formed UTF-8 (s.size() when all of it is).
size_t utf8_valid_prefix(std::string_view s);

// Throws kvmix::Error naming `source`, the line and the byte offset of the first ill-formed byte
// unless `text` is well-formed UTF-8. For the readers of text files (task data, corpora): the
// tokenizer refuses such text too, but cannot say which file it came from.
void check_utf8_file(std::string_view text, const std::string& source);

// Bytes in the character whose first byte is `lead`, for text already known to be valid.
inline size_t utf8_char_size(unsigned char lead) {
  return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}

// The code point starting at s[i] of valid UTF-8; advances i past it.
char32_t utf8_decode(std::string_view s, size_t& i);

void utf8_append(std::string& out, char32_t cp);

// `bytes` as valid UTF-8: each maximal ill-formed subpart becomes one U+FFFD ("substitution of
// maximal subparts", Unicode 15 section 3.9.6), as Rust's String::from_utf8_lossy and the WHATWG
// TextDecoder do, so a decoder built on either gives the same text.
std::string utf8_lossy(std::string_view bytes);

}  // namespace kvmix
