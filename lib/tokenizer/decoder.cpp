#include "lib/tokenizer/decoder.h"

#include <algorithm>

#include "lib/tokenizer/byte_level.h"
#include "lib/tokenizer/normalizer.h"  // replace_all
#include "lib/tokenizer/utf8.h"

namespace kvmix {
namespace {

using Tokens = std::vector<std::string>;

// One string: the bytes the tokens spell, as lossy UTF-8 (src/decoders/byte_level.rs). A token with
// a character outside the alphabet contributes its own UTF-8, as HF tokenizers does.
Tokens byte_level(const Tokens& tokens, const std::function<bool(const std::string&)>& is_added) {
  std::string bytes;
  for (const std::string& token : tokens) {
    if (is_added(token) || !byte_level_decode(token, bytes)) bytes += token;
  }
  return {utf8_lossy(bytes)};
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Runs of <0xXX> tokens become the text their bytes spell; a run that is not valid UTF-8 becomes
// one U+FFFD per byte (src/decoders/byte_fallback.rs).
Tokens byte_fallback(const Tokens& tokens) {
  Tokens out;
  std::string run;
  const auto flush = [&] {
    if (run.empty()) return;
    if (utf8_valid_prefix(run) == run.size()) {
      out.push_back(run);
    } else {
      for (size_t i = 0; i < run.size(); ++i) out.emplace_back("\xEF\xBF\xBD");
    }
    run.clear();
  };
  for (const std::string& token : tokens) {
    const bool is_byte = token.size() == 6 && token.compare(0, 3, "<0x") == 0 && token[5] == '>' &&
                         hex_digit(token[3]) >= 0 && hex_digit(token[4]) >= 0;
    if (is_byte) {
      run += static_cast<char>(hex_digit(token[3]) * 16 + hex_digit(token[4]));
    } else {
      flush();
      out.push_back(token);
    }
  }
  flush();
  return out;
}

// Strips up to `start` leading and `stop` trailing copies of the character `c` from each token
// (src/decoders/strip.rs).
Tokens strip(Tokens tokens, const std::string& c, size_t start, size_t stop) {
  for (std::string& token : tokens) {
    size_t begin = 0, end = token.size();
    for (size_t i = 0; i < start && token.compare(begin, c.size(), c) == 0; ++i) begin += c.size();
    for (size_t i = 0;
         i < stop && end - begin >= c.size() && token.compare(end - c.size(), c.size(), c) == 0;
         ++i) {
      end -= c.size();
    }
    token = token.substr(begin, end - begin);
  }
  return tokens;
}

}  // namespace

std::string Decoder::decode(Tokens tokens,
                            const std::function<bool(const std::string&)>& is_added) const {
  std::string text;
  if (!present) {
    for (size_t i = 0; i < tokens.size(); ++i) text += (i ? " " : "") + tokens[i];
    return text;
  }
  for (const DecoderStep& step : steps) {
    switch (step.kind) {
      case DecoderStep::Kind::kByteLevel:
        tokens = byte_level(tokens, is_added);
        break;
      case DecoderStep::Kind::kReplace:
        for (std::string& token : tokens) token = replace_all(token, step.pattern, step.content);
        break;
      case DecoderStep::Kind::kByteFallback:
        tokens = byte_fallback(tokens);
        break;
      case DecoderStep::Kind::kFuse:
        for (size_t i = 1; i < tokens.size(); ++i) tokens[0] += tokens[i];
        tokens.resize(std::min<size_t>(tokens.size(), 1));
        break;
      case DecoderStep::Kind::kStrip:
        tokens = strip(std::move(tokens), step.content, step.start, step.stop);
        break;
    }
  }
  for (const std::string& token : tokens) text += token;
  return text;
}

}  // namespace kvmix
