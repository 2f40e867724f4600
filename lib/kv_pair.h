#pragma once
// A (key bits, value bits) pair and the quantization scheme that turns it into formats. Names
// such as "K4V2" or "KV8" are parsed once at the edge into a KvPair (DESIGN.md, "Coding habits").
//
// Schemes (DESIGN.md, "Quantization formats"), the two KVTuner searches:
//   kivi:      keys per-channel, values per-token, group 32, residual 32, asymmetric
//              (KIVI, arXiv 2402.02750; KIVI's own default residual is 128)
//   per-token: keys and values per-token, group = head_dim, no residual, asymmetric
// Bits 16 means "kept in the model dtype".
#include <string>
#include <vector>

#include "kernels/quant_format.h"

namespace kvmix {

struct KvPair {
  int k_bits = 16;
  int v_bits = 16;
  bool operator==(const KvPair& o) const { return k_bits == o.k_bits && v_bits == o.v_bits; }
  bool operator!=(const KvPair& o) const { return !(*this == o); }
};

enum class Scheme { kKivi, kPerToken };

// "K4V2", "KV8", "k8v4", "fp16"/"KV16". UsageError naming the text otherwise.
KvPair parse_pair(const std::string& text);
std::string pair_name(const KvPair& p);  // "KV8" when equal, else "K4V2"; "KV16" for full precision

Scheme parse_scheme(const std::string& text);  // "kivi", "per-token" (also "pertoken")
const char* scheme_name(Scheme s);

// Bits a scheme accepts for keys or values: 2, 4, 8 (KVTuner's candidates), 1 and 3, and 16.
bool pair_bits_supported(int bits);

QuantFormat key_format(Scheme s, int bits);
QuantFormat value_format(Scheme s, int bits);

// Throws kvmix::Error naming the scheme, head_dim and format unless the scheme's quantized formats
// fit heads of head_dim channels: kivi's value groups of 32 channels need a head_dim that 32
// divides (16 and 48 do not), per-token (group = head_dim) fits any.
void check_scheme_fits(Scheme s, int64_t head_dim);

struct LayerKvFormat {
  QuantFormat k;
  QuantFormat v;
  bool operator==(const LayerKvFormat& o) const { return k == o.k && v == o.v; }
};

// One pair on every layer.
std::vector<LayerKvFormat> uniform_layers(Scheme s, const KvPair& p, int64_t layers);

// KVTuner's candidate set: all nine pairs of {2, 4, 8} x {2, 4, 8}.
std::vector<KvPair> default_candidate_pairs();

}  // namespace kvmix
