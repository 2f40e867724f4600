#pragma once
// LMDeploy (TurboMind and PyTorch engines): one KV quantization policy for the whole model,
// `--quant-policy` on the command line or TurbomindEngineConfig(quant_policy=...): 0 keeps the
// model dtype, 4 and 8 store keys and values as 4- or 8-bit integers, quantized online per token
// and head, asymmetric (a scale and a zero-point per head per token).
//
// Lowering rule (one policy engine): the most conservative policy at least as precise as every
// layer's K and V: any fp16 side forces 0, any side above 4 bits (8-bit, fp8) forces 8, else 4.
// Every layer that needed less loses its compression; per-layer and K/V asymmetry disappear.
#include "lib/export/export_result.h"
#include "lib/kv_config.h"

namespace kvmix {

ExportResult export_lmdeploy(const KvConfig& c);

}  // namespace kvmix
