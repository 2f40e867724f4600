#pragma once
// NVIDIA ModelOpt's checkpoint quantization config (hf_quant_config.json), KV cache schema v1:
//
//   {"producer": {...}, "quantization": {"quant_algo": null,
//     "kv_cache_quant_algo": "FP8" | "NVFP4" | "FP8_K_NVFP4_V" | "MIXED_PRECISION",
//     "kv_cache_quantized_layers": {"model.layers.0.self_attn": {"quant_algo": "FP8"}, ...},
//     "kv_cache_schema_version": 1}}
//
// Layers absent from kv_cache_quantized_layers keep the model dtype. kv_cache_quant_algo is the
// one algorithm when every layer is quantized alike, else MIXED_PRECISION.
//
// Lowering rule, per layer and side: the least precise ModelOpt format at least as precise as
// the kvmix format: up to 4 bits (ternary included) NVFP4 (e2m1 codes, an fp8 scale per 16
// elements, 4.5 bits), up to 8 bits FP8 (e4m3), fp16 unquantized. A layer's pair then maps to
// FP8, NVFP4 or FP8_K_NVFP4_V; a layer with NVFP4 keys and FP8 values has no algorithm, so its
// keys are raised to FP8; a layer with one fp16 side is left out (unquantized). The attention
// module name comes from the config's k_proj naming without its last component.
#include "lib/export/export_result.h"
#include "lib/kv_config.h"

namespace kvmix {

ExportResult export_modelopt(const KvConfig& c);

}  // namespace kvmix
