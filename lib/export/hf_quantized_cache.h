#pragma once
// Hugging Face transformers' quantized KV cache: generate(cache_implementation="quantized",
// cache_config={...}), the keys of transformers' QuantizedCacheConfig: backend, nbits, axis_key,
// axis_value, q_group_size, residual_length. Stock transformers applies that one config to every
// layer and to keys and values alike; KVTuner's FlexibleQuantizedCacheConfig (a subclass) adds
// per_layer_quant and per_layer_config (indexed by layer: {nbits_key, nbits_value}), which this
// file also writes, as a list (JSON object keys would be strings, which that cache's integer
// indexing misses), with each layer's axes, group and residual beside its bits for the reader.
//
// Lowering rule:
//  - backend "HQQ": the one transformers backend with 1, 2, 3, 4 and 8 bits (quanto has 2 and 4).
//  - nbits (the stock, single value) = the most precise any layer's K or V needs, so a stock run
//    never quantizes a layer harder than the config says; the per-layer table keeps the rest.
//  - axis 0 for per-channel groups (groups run along tokens: KIVI's keys), 1 for per-token groups
//    (along channels); q_group_size = the group (head_dim when the group is the whole head);
//    residual_length = the residual window. The first quantized layer's values are the global
//    ones; layers that differ are listed.
//  - fp16 layers: the quantized cache quantizes every layer, so they are written as 8 bits;
//    fp8 becomes 8-bit integers; ternary becomes 2 bits; symmetric formats become asymmetric
//    (HQQ always stores a zero-point); fp32 scales become the compute dtype.
#include "lib/export/export_result.h"
#include "lib/kv_config.h"

namespace kvmix {

ExportResult export_hf(const KvConfig& c);

}  // namespace kvmix
