#pragma once
// Shared pieces of lowering a per-layer config to an engine: naming sets of layers compactly in
// loss messages, and comparing the memory the engine will use with kvmix's own true bytes.
#include <cstddef>
#include <string>
#include <vector>

#include "lib/kv_config.h"

namespace kvmix {

// "0-3, 7, 9-31" for {0, 1, 2, 3, 7, 9, ..., 31}; indices must be sorted ascending.
std::string layer_ranges(const std::vector<size_t>& layers);
// "layer 7" or "layers 0-3, 7": how loss messages name the layers they are about.
std::string layers_label(const std::vector<size_t>& layers);

// Storage bits per element of K and V of one layer in an engine's layout (codes plus its scales).
struct LoweredLayer {
  double k_bits = 16;
  double v_bits = 16;
};

// Bytes per token of the lowered layers (every token stored in the engine's layout).
double lowered_bytes_per_token(const KvConfig& c, const std::vector<LoweredLayer>& lowered);

// A loss line when the engine stores more than kvmix's true bytes at c.reference_tokens, e.g.
// "memory: 61440 bytes per token in vllm (fp8) against 29120 true bytes in kvmix at 4096 tokens
// (+111%)"; empty when it stores no more (then its losses are precision, listed separately).
std::string memory_loss(const KvConfig& c, const std::vector<LoweredLayer>& lowered,
                        const std::string& target);

// True when any layer keeps a full-precision residual window on K or V: engines without one
// quantize the newest tokens too.
bool has_residual_window(const KvConfig& c);
std::string residual_loss(const KvConfig& c, const std::string& target);

// Layers whose K or V is kept in the model dtype (kNone).
std::vector<size_t> full_precision_layers(const KvConfig& c);

}  // namespace kvmix
