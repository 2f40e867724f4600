#include "lib/tokenizer/utf8.h"

#include <algorithm>

#include "base/error.h"

namespace kvmix {
namespace {

// Length of the well-formed sequence at s[i], or of its maximal ill-formed subpart (at least 1)
// with `ok` false. The ranges of the second byte are table 3-7 of the Unicode standard.
size_t scan_sequence(std::string_view s, size_t i, bool& ok) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  ok = false;
  if (b0 < 0x80) {
    ok = true;
    return 1;
  }
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 3;
    if (b0 == 0xE0) lo = 0xA0;  // no overlong 3-byte forms
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 4;
    if (b0 == 0xF0) lo = 0x90;  // no overlong 4-byte forms
    if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return 1;
  }
  for (size_t k = 1; k < need; ++k) {
    if (i + k >= s.size()) return k;
    const auto b = static_cast<unsigned char>(s[i + k]);
    if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) return k;
  }
  ok = true;
  return need;
}

}  // namespace

size_t utf8_valid_prefix(std::string_view s) {
  size_t i = 0;
  bool ok = true;
  while (i < s.size()) {
    const size_t n = scan_sequence(s, i, ok);
    if (!ok) return i;
    i += n;
  }
  return i;
}

char32_t utf8_decode(std::string_view s, size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  const size_t n = utf8_char_size(b0);
  char32_t cp = n == 1 ? b0 : n == 2 ? (b0 & 0x1F) : n == 3 ? (b0 & 0x0F) : (b0 & 0x07);
  for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  i += n;
  return cp;
}

void utf8_append(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::string utf8_lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  size_t i = 0;
  bool ok = true;
  while (i < bytes.size()) {
    const size_t n = scan_sequence(bytes, i, ok);
    if (ok) {
      out.append(bytes.substr(i, n));
    } else {
      utf8_append(out, 0xFFFD);
    }
    i += n;
  }
  return out;
}

void check_utf8_file(std::string_view text, const std::string& source) {
  const size_t valid = utf8_valid_prefix(text);
  if (valid == text.size()) return;
  const auto line = 1 + std::count(text.begin(), text.begin() + static_cast<long>(valid), '\n');
  throw Error(fmt::format("{}:{}: not valid UTF-8 (first bad byte 0x{:02X} at byte offset {})",
                          source, line, static_cast<unsigned char>(text[valid]), valid));
}

}  // namespace kvmix
