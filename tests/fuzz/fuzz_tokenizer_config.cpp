// libFuzzer target: the tokenizer_config.json that Tokenizer::from_file reads beside a
// tokenizer.json (its bos_token and eos_token), on arbitrary bytes, next to the tokenizer.json of
// tests/fixtures/tokenizer/byte_level_minimal/. A bad file must be refused with a kvmix::Error; a
// crash, a sanitizer report or another exception escaping is a bug. A config that loads must name
// tokens the tokenizer has. Crashes go to tests/fuzz/regressions/tokenizer_config/.
#include <cstddef>
#include <cstdint>
#include <string>

#include "base/error.h"
#include "lib/io/atomic_file.h"  // read_file
#include "lib/tokenizer/tokenizer.h"
#include "tests/fuzz/fuzz_input_file.h"
#include "tests/fuzz/fuzz_refused.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kvmix;
  static const std::string tokenizer_path = [] {
    const std::string text = read_file(std::string(KVMIX_SOURCE_DIR) +
                                       "/tests/fixtures/tokenizer/byte_level_minimal/" +
                                       "tokenizer.json");
    return fuzz::write_input_file("tokenizer.json", reinterpret_cast<const uint8_t*>(text.data()),
                                  text.size());
  }();
  fuzz::write_input_file("tokenizer_config.json", data, size);
  int64_t bos = 0, vocab = 0;
  std::vector<int64_t> eos;
  try {
    const Tokenizer tok = Tokenizer::from_file(tokenizer_path);
    bos = tok.bos_id();
    eos = tok.eos_ids();
    vocab = tok.vocab_size();
  } catch (const Error& e) {
    return fuzz::refused(e);
  }
  KVMIX_ASSERT(bos >= -1 && bos < vocab, "bos id {} of {}", bos, vocab);
  for (const int64_t id : eos) KVMIX_ASSERT(id >= 0 && id < vocab, "eos id {} of {}", id, vocab);
  return 0;
}
