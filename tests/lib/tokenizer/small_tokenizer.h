#pragma once
// A valid tokenizer.json of 4 vocabulary entries and 1 added token (ids 0-4), which the error
// tests break in one place each.
#include <nlohmann/json.hpp>

namespace kvmix::test {

inline nlohmann::json small_tokenizer() {
  return nlohmann::json::parse(R"({
    "version": "1.0", "truncation": null, "padding": null,
    "added_tokens": [{"id": 4, "content": "<s>", "single_word": false, "lstrip": false,
                      "rstrip": false, "normalized": false, "special": true}],
    "normalizer": null, "pre_tokenizer": null, "post_processor": null, "decoder": null,
    "model": {"type": "BPE", "dropout": null, "unk_token": "<unk>", "fuse_unk": false,
              "byte_fallback": false, "vocab": {"<unk>": 0, "a": 1, "b": 2, "ab": 3},
              "merges": ["a b"]}})");
}

}  // namespace kvmix::test
