#pragma once
// The table of named formats the kernels implement (ggml's type-traits table): each format's
// name, bits, group, storage per group and which kernel versions exist. The tests iterate over it
// (tests/kernels/quant_codes_test.cpp) and `kvmix formats` prints it, so a format added here is
// tested and listed without further edits.
#include <string>
#include <vector>

#include "kernels/quant_format.h"

namespace kvmix {

// Storage figures are quoted for this head_dim (and, for fp8's per-head scale, this many tokens).
constexpr int64_t kRegistryHeadDim = 128;
constexpr int64_t kRegistryTokens = 4096;

struct FormatEntry {
  QuantFormat format;
  std::string name;          // format_name(format)
  double nominal_bits = 0;   // b (1.58 for ternary)
  int64_t group = 0;         // G at head_dim (fp8: 0, the scale covers a head or tensor)
  int64_t bytes_per_group = 0;  // codes + scale + zero of one group (fp8: one token row)
  double bits_per_element = 0;  // true bits per element at head_dim, no residual window
  bool has_ref = true, has_cpu = true;
  bool has_cuda = false;     // the CUDA kernels are compiled into this build
  bool fused_key = false;    // usable as the key format of decode_attention
  bool fused_value = false;  // usable as the value format of decode_attention
};

// Every named format, residual 0, fp16 scales (fp8: fp32 scale).
const std::vector<FormatEntry>& format_registry();

// The registry as an aligned text table, one format per line.
std::string format_table_text();

}  // namespace kvmix
