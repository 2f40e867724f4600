#include "lib/tokenizer/utf8.h"

#include <catch2/catch.hpp>

#include "lib/tokenizer/byte_level.h"

using namespace kvmix;

TEST_CASE("UTF-8 validation follows the standard's well-formed byte sequences", "[utf8]") {
  CHECK(utf8_valid_prefix("h\xC3\xA9 \xE6\x97\xA5 \xF0\x9F\xA6\x80") == 12);
  CHECK(utf8_valid_prefix("ab\xC0\xAF") == 2);          // overlong '/'
  CHECK(utf8_valid_prefix("ab\xED\xA0\x80") == 2);      // surrogate U+D800
  CHECK(utf8_valid_prefix("ab\xF4\x90\x80\x80") == 2);  // above U+10FFFF
  CHECK(utf8_valid_prefix("ab\xE6\x97") == 2);          // truncated
  CHECK(utf8_valid_prefix("\x80") == 0);
}

TEST_CASE("lossy UTF-8 replaces each maximal ill-formed subpart with one U+FFFD", "[utf8]") {
  // The example of Unicode 15, section 3.9.6 (table 3-8): 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64.
  const std::string r = "\xEF\xBF\xBD";
  CHECK(utf8_lossy("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64") ==
        "a" + r + r + r + "b" + r + "c" + r + r + "d");
  CHECK(utf8_lossy("ok \xF0\x9F\xA6\x80") == "ok \xF0\x9F\xA6\x80");
}

TEST_CASE("GPT-2 byte alphabet maps every byte to one character and back", "[utf8][tokenizer]") {
  CHECK(byte_level_char(' ') == "\xC4\xA0");   // Ġ
  CHECK(byte_level_char('\n') == "\xC4\x8A");  // Ċ
  CHECK(byte_level_char('A') == "A");
  CHECK(byte_level_char(0xAD) == "\xC5\x83");  // soft hyphen, the last shifted byte: U+0143
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  std::string back;
  REQUIRE(byte_level_decode(byte_level_encode(all), back));
  CHECK(back == all);
  CHECK_FALSE(byte_level_decode("a\xE2\x96\x81", back));  // ▁ is not in the alphabet
}
