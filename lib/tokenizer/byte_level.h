#pragma once
// GPT-2's byte-to-unicode alphabet: byte-level BPE works on bytes, but its vocabulary and merges
// are written as text, so each byte is spelled as one printable character. Printable Latin-1 bytes
// ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for themselves; the other 68 bytes, in increasing order, are
// spelled U+0100, U+0101, ... (bytes_to_unicode in openai/gpt-2 src/encoder.py; HF tokenizers
// src/pre_tokenizers/byte_level.rs). So a space is 'Ġ' (U+0120) and a newline 'Ċ' (U+010A).
#include <cstdint>
#include <string>
#include <string_view>

namespace kvmix {

// The character (UTF-8) that spells `byte`.
const std::string& byte_level_char(uint8_t byte);

// `bytes` spelled in the alphabet: one character per byte.
std::string byte_level_encode(std::string_view bytes);

// Appends the bytes that `token` spells to `out`. Returns false, appending nothing, when a
// character of `token` is not in the alphabet.
bool byte_level_decode(std::string_view token, std::string& out);

}  // namespace kvmix
