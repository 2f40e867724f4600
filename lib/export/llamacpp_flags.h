#pragma once
// llama.cpp: one cache type for all keys (-ctk) and one for all values (-ctv), among f16, q8_0,
// q5_1, q5_0, q4_1, q4_0 (ggml blocks of 32 consecutive channels of one token: q4_0 an fp16 scale,
// 4.5 bits; q4_1 scale and min, 5 bits; q5_0 5.5; q5_1 6; q8_0 8.5). A quantized V cache needs
// flash attention (-fa).
//
// Lowering rule: each layer side needs the smallest ggml type at least as precise as its kvmix
// format (fp16 -> f16; 8-bit or fp8 -> q8_0; up to 4 bits -> q4_1 when asymmetric, like kvmix's
// zero-point, q4_0 when symmetric or ternary). llama.cpp has no per-layer types, so -ctk/-ctv are
// the most precise any layer needs; the file also lists, as comments, the per-layer types the
// config needs (first/last-N layers kept more precise show up as their own ranges), which is what
// a user would need to reproduce it with per-layer cache types.
#include "lib/export/export_result.h"
#include "lib/kv_config.h"

namespace kvmix {

ExportResult export_llamacpp(const KvConfig& c);

}  // namespace kvmix
