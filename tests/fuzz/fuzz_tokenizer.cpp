// libFuzzer target: Tokenizer::from_json (tokenizer.json) on arbitrary bytes. A file kvmix cannot
// load, or one using a component it does not implement, must be refused with a kvmix::Error; a
// crash, a sanitizer report, a hang or another exception escaping is a bug. A tokenizer that
// loads must then encode a fixed set of texts (ASCII, digits, whitespace runs, accents in both
// normal forms, CJK, emoji, special-token look-alikes) without crashing, and decode what it
// encoded: every id encode returns must be one decode knows. Crashes go to
// tests/fuzz/regressions/tokenizer/.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "lib/tokenizer/tokenizer.h"
#include "tests/fuzz/fuzz_refused.h"

namespace {

const char* const kTexts[] = {
    "Hello world! It's 2024, and we're testing 12345 tokens.",
    "  leading and   repeated   spaces\n\n\ttabs\r\nand lines  ",
    "caf\xc3\xa9 cafe\xcc\x81 na\xc3\xafve \xc3\x85ngstr\xc3\xb6m",      // precomposed, combining
    // CJK, emoji
    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe6\x96\x87 \xf0\x9f\x98\x80\xf0\x9f\x91\x8d",
    "<|endoftext|><s></s><unk><|im_start|>user\n<|begin_of_text|>x<pad>",
    "",
    "a",
    " ",
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kvmix;
  std::optional<Tokenizer> tok;
  try {
    tok.emplace(Tokenizer::from_json(std::string(reinterpret_cast<const char*>(data), size),
                                     "fuzz-input"));
  } catch (const Error& e) {
    return fuzz::refused(e);
  }
  const int64_t vocab = tok->vocab_size();
  KVMIX_ASSERT(vocab >= 0, "negative vocab size {}", vocab);
  for (const char* text : kTexts) {
    for (const bool special : {false, true}) {
      std::vector<int64_t> ids;
      try {
        ids = tok->encode(text, special, special ? SpecialTokensInText::kMatch
                                                 : SpecialTokensInText::kAsText);
      } catch (const Error&) {
        continue;  // e.g. a regex that hits PCRE2's match limit: refused, not a crash
      }
      for (const int64_t id : ids)
        KVMIX_ASSERT(id >= 0 && id < vocab, "encode gave id {} outside [0, {})", id, vocab);
      std::string back;
      try {
        back = tok->decode(ids, /*skip_special_tokens=*/false);
        back = tok->decode(ids, /*skip_special_tokens=*/true);
      } catch (const Error& e) {
        KVMIX_ASSERT(false, "decode refused what encode gave: {}", e.what());
      }
    }
  }
  return 0;
}
