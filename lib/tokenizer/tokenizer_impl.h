#pragma once
// The parts of a loaded Tokenizer, shared by the loader (tokenizer_json.cpp) and the encode/decode
// pipeline (tokenizer.cpp). Not for use outside the tokenizer.
#include <cstdint>
#include <memory>
#include <vector>

#include "lib/tokenizer/tokenizer.h"
#include "lib/tokenizer/added_tokens.h"
#include "lib/tokenizer/bpe.h"
#include "lib/tokenizer/decoder.h"
#include "lib/tokenizer/normalizer.h"
#include "lib/tokenizer/pre_tokenizer.h"

namespace kvmix {

struct Tokenizer::Impl {
  AddedTokens added;
  Normalizer normalizer;
  PreTokenizer pre_tokenizer;
  std::unique_ptr<const BpeModel> model;
  // The post-processor's template for one sequence: ids before and after it.
  std::vector<int64_t> template_prefix, template_suffix;
  Decoder decoder;
  int64_t bos_id = -1;
  std::vector<int64_t> eos_ids;
};

}  // namespace kvmix
