#pragma once
// NVIDIA ModelOpt's checkpoint quantization config, hf_quant_config.json, as ModelOpt's own
// exporter writes it (modelopt.torch.export, 0.47) and vLLM's ModelOpt loader reads it:
//
//   {"producer": {"name": "kvmix", "version": ...},
//    "quantization": {"quant_algo": null, "kv_cache_quant_algo": "FP8" | "NVFP4" | null,
//                     "exclude_modules": []}}
//
// ModelOpt has one KV cache format for the whole model: its exporter asserts "Do not support
// mixed precision kv cache quantization", and vLLM attaches the same KV cache method to every
// attention layer (exclude_modules applies to weights only). quant_algo describes the weights,
// which kvmix does not quantize: a checkpoint's own ModelOpt export supplies it, and vLLM refuses
// a file whose quant_algo is null ("Missing 'quant_algo'"), so this file is merged into a
// ModelOpt-quantized checkpoint's hf_quant_config.json, not used alone (said in the losses).
//
// Lowering rule: each layer side needs the least precise ModelOpt format at least as precise as
// its kvmix format (up to 4 bits, ternary included: NVFP4, e2m1 codes with an fp8 scale per 16
// elements, 4.5 bits; up to 8 bits: FP8 e4m3; fp16: unquantized). The whole model gets the most
// precise any side needs; any fp16 side leaves the KV cache unquantized (null).
#include "lib/export/export_result.h"
#include "lib/kv_config.h"

namespace kvmix {

ExportResult export_modelopt(const KvConfig& c);

}  // namespace kvmix
