#include "apps/train/builtin_vocab.h"

#include <nlohmann/json.hpp>

namespace kvmix::builtin {
namespace {

// GPT-2's bytes_to_unicode: printable bytes map to themselves, the others to U+0100 onwards, so
// every byte has a visible one-character spelling in the vocabulary.
std::vector<std::string> byte_spellings() {
  std::vector<int> printable;
  for (int b = '!'; b <= '~'; ++b) printable.push_back(b);
  for (int b = 0xA1; b <= 0xAC; ++b) printable.push_back(b);
  for (int b = 0xAE; b <= 0xFF; ++b) printable.push_back(b);
  std::vector<int> cp(256, -1);
  for (int b : printable) cp[static_cast<size_t>(b)] = b;
  int n = 0;
  for (int b = 0; b < 256; ++b)
    if (cp[static_cast<size_t>(b)] < 0) cp[static_cast<size_t>(b)] = 256 + n++;
  std::vector<std::string> out;
  for (int c : cp) {
    std::string u;
    if (c < 0x80) {
      u.push_back(static_cast<char>(c));
    } else {  // two-byte UTF-8 (all code points here are below 0x800)
      u.push_back(static_cast<char>(0xC0 | (c >> 6)));
      u.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
    out.push_back(u);
  }
  return out;
}

}  // namespace

std::string tokenizer_json() {
  using nlohmann::json;
  json vocab = json::object();
  const auto sp = byte_spellings();
  for (int b = 0; b < 256; ++b) vocab[sp[static_cast<size_t>(b)]] = b;
  auto special = [](int64_t id, const char* content) {
    return json{{"id", id},          {"content", content}, {"single_word", false},
                {"lstrip", false},   {"rstrip", false},    {"normalized", false},
                {"special", true}};
  };
  json j = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens",
       json::array({special(kBos, "<|bos|>"), special(kEos, "<|eos|>"), special(kPad, "<|pad|>")})},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true},
        {"use_regex", true}}},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single",
         json::array({json{{"SpecialToken", {{"id", "<|bos|>"}, {"type_id", 0}}}},
                      json{{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
        {"pair",
         json::array({json{{"SpecialToken", {{"id", "<|bos|>"}, {"type_id", 0}}}},
                      json{{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                      json{{"Sequence", {{"id", "B"}, {"type_id", 1}}}}})},
        {"special_tokens",
         {{"<|bos|>", {{"id", "<|bos|>"}, {"ids", json::array({kBos})}, {"tokens", json::array({"<|bos|>"})}}}}}}},
      {"decoder",
       {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true},
        {"use_regex", true}}},
      {"model",
       {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr},
        {"continuing_subword_prefix", nullptr}, {"end_of_word_suffix", nullptr},
        {"fuse_unk", false}, {"byte_fallback", false}, {"ignore_merges", false},
        {"vocab", vocab}, {"merges", json::array()}}},
  };
  return j.dump(1) + "\n";
}

}  // namespace kvmix::builtin
