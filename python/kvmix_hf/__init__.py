"""kvmix_hf: kvmix's per-layer KV cache configs in Hugging Face transformers.

    from kvmix_hf import KvmixCache
    cache = KvmixCache.from_file("config.json", model.config)   # kvmix config or its HF export
    out = model.generate(input_ids, past_key_values=cache, max_new_tokens=64)

See python/README.md for what is reproduced bit for bit and what differs.
"""
from .cache import STORAGES, KvmixCache, KvmixLayer
from .formats import (FP16, KvConfig, KvConfigError, LayerFormats, QuantFormat, hf_export_from_json,
                      kv_config_from_json, load_kv_config, residual_tokens, uniform_config)
from .quant import Packed, fake_quant, quantize_pack, unpack_dequantize

__version__ = "0.1.0"

__all__ = ["FP16", "KvConfig", "KvConfigError", "KvmixCache", "KvmixLayer", "LayerFormats", "Packed",
           "QuantFormat", "STORAGES", "fake_quant", "hf_export_from_json", "kv_config_from_json",
           "load_kv_config", "quantize_pack", "residual_tokens", "uniform_config",
           "unpack_dequantize"]
