#include "lib/tokenizer/byte_level.h"

#include <array>

#include "lib/tokenizer/utf8.h"

namespace kvmix {
namespace {

constexpr char32_t kFirstShifted = 0x100;  // code point of the first non-printable byte
// The alphabet's largest code point: 256 + 68 shifted bytes - 1.
constexpr char32_t kLastCodePoint = 0x143;

bool is_printable(int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE; }

struct Alphabet {
  std::array<std::string, 256> char_of_byte;
  std::array<int16_t, kLastCodePoint + 1> byte_of_code_point;  // -1: not in the alphabet

  Alphabet() {
    byte_of_code_point.fill(-1);
    char32_t shifted = kFirstShifted;
    for (int b = 0; b < 256; ++b) {
      const char32_t cp = is_printable(b) ? static_cast<char32_t>(b) : shifted++;
      utf8_append(char_of_byte[b], cp);
      byte_of_code_point[cp] = static_cast<int16_t>(b);
    }
  }
};

// A constant table, built once on first use.
const Alphabet& alphabet() {
  static const Alphabet table;
  return table;
}

}  // namespace

const std::string& byte_level_char(uint8_t byte) { return alphabet().char_of_byte[byte]; }

std::string byte_level_encode(std::string_view bytes) {
  const Alphabet& a = alphabet();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) out += a.char_of_byte[static_cast<uint8_t>(c)];
  return out;
}

bool byte_level_decode(std::string_view token, std::string& out) {
  const Alphabet& a = alphabet();
  const size_t start = out.size();
  for (size_t i = 0; i < token.size();) {
    const char32_t cp = utf8_decode(token, i);
    if (cp > kLastCodePoint || a.byte_of_code_point[cp] < 0) {
      out.resize(start);
      return false;
    }
    out += static_cast<char>(a.byte_of_code_point[cp]);
  }
  return true;
}

}  // namespace kvmix
