#pragma once
// vLLM: one KV cache dtype for the whole model (--kv-cache-dtype: auto, fp8, fp8_e4m3,
// fp8_e5m2) plus the layers kept in the model dtype (--kv-cache-dtype-skip-layers 0 1 23),
// as in vLLM's "Quantized KV Cache" documentation.
//
// Lowering rule (one dtype engine): the most conservative choice at least as precise as every
// layer. A layer whose K or V is kept in fp16 is skipped (vLLM skips K and V together); every
// other layer is stored in fp8_e4m3 (e4m3 rather than e5m2: more mantissa, the format kvmix's own
// fp8 uses). Layers below 8 bits lose their compression and are listed; 8-bit integer layers
// change encoding (grouped dynamic scales become one static scale per tensor) at the same width.
// An all-fp16 config is `--kv-cache-dtype auto`.
#include "lib/export/export_result.h"
#include "lib/kv_config.h"

namespace kvmix {

ExportResult export_vllm(const KvConfig& c);

}  // namespace kvmix
