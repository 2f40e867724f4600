"""A transformers cache that stores each layer's keys and values in that layer's kvmix formats.

transformers' QuantizedCache applies one bit width, one axis and one group to every layer (and
KVTuner had to patch it for per-layer bits). KvmixCache takes a kvmix config (or kvmix's Hugging
Face export) and gives every layer its own key and value format, following kvmix's cache rules
(lib/kv_quant_rules.h, lib/cache/packed_kv_cache.cpp; KIVI, arXiv 2402.02750, Algorithm 1):

  - a step's new tokens are attended in full precision together with the stored past, and
    stored after the attention (the cache returns them unquantized, then flushes);
  - per-channel formats (KIVI's keys) leave the full-precision window max(residual, group)
    tokens at a time, so the window holds T mod max(residual, group) tokens;
  - every other format (KIVI's values, per-token, fp8) keeps a sliding window of the newest
    `residual` tokens and quantizes tokens one by one as they leave it;
  - a flushed block is quantized on its own (per-channel groups start at the block's first
    token), exactly as kvmix's packed and fake-quant caches do;
  - fp16 sides are kept in the model dtype.

Storage: "packed" keeps kvmix's packed codes, scales and zeros (the memory a serving engine would
hold) and dequantizes them at every step, as transformers' QuantizedLayer does; "dequantized"
keeps the dequantized values instead (the same numbers, faster, no memory saved: kvmix's
fake-quant cache). Both give identical attention inputs.

One difference from kvmix: kvmix batches left-padded prompts in one slot axis and fills a padded
slot of a per-channel group with the mean of the group's real tokens; this cache sees no padding
mask, so run it one sequence per batch (or with equal-length prompts) to reproduce kvmix's
groups. Everything else (rounding, grouping, scales, zeros, codes) is kvmix's, bit for bit.
"""
from __future__ import annotations

from typing import Any

import torch
from transformers.cache_utils import Cache, CacheLayerMixin

from .formats import KvConfig, KvConfigError, QuantFormat, load_kv_config, residual_tokens
from .quant import Packed, quantize_pack, unpack_dequantize

STORAGES = ("packed", "dequantized")


class _Side:
    """One layer's keys or values: quantized blocks of the oldest tokens, then the window."""

    def __init__(self, fmt: QuantFormat, storage: str):
        self.fmt = fmt
        self.storage = storage
        self.blocks: list[Packed] = []     # packed: in token order
        self.dequantized: torch.Tensor | None = None  # dequantized storage: [B, H, quantized, D]
        self.quantized = 0                 # tokens [0, quantized) left the window
        self.window: torch.Tensor | None = None       # [B, H, tokens - quantized, D], model dtype

    def append(self, x: torch.Tensor) -> None:
        self.window = x if self.window is None else torch.cat([self.window, x], dim=-2)

    def past(self) -> torch.Tensor:
        """Everything stored, as attended: [B, H, tokens, D] in the window's dtype."""
        parts = []
        if self.storage == "packed" and self.blocks:
            parts = [unpack_dequantize(p, self.fmt, self.window.dtype) for p in self.blocks]
        elif self.dequantized is not None:
            parts = [self.dequantized]
        return torch.cat(parts + [self.window], dim=-2) if parts else self.window

    def flush(self, tokens: int) -> None:
        upto = tokens - residual_tokens(self.fmt, tokens)
        if upto <= self.quantized:
            return
        n = upto - self.quantized
        block = self.window[..., :n, :].contiguous()
        packed = quantize_pack(block, self.fmt)
        if self.storage == "packed":
            self._append_block(packed)
        else:
            x = unpack_dequantize(packed, self.fmt, block.dtype)
            self.dequantized = x if self.dequantized is None else torch.cat([self.dequantized, x], -2)
        self.quantized = upto
        self.window = self.window[..., n:, :].contiguous()

    def _append_block(self, p: Packed) -> None:
        # Blocks join into one packed tensor where the layout allows (kvmix's packed cache appends
        # them the same way): per-token rows always, per-channel rows when the previous block
        # ended on a whole group. fp8 scales belong to their block, which stays separate.
        last = self.blocks[-1] if self.blocks else None
        f = self.fmt
        joinable = last is not None and f.kind != "fp8_e4m3" and (
            f.axis == "per-token" or last.tokens % f.group == 0)
        if not joinable:
            self.blocks.append(p)
            return
        self.blocks[-1] = Packed(
            torch.cat([last.codes, p.codes], dim=-3), torch.cat([last.scales, p.scales], dim=-2),
            None if p.zeros is None else torch.cat([last.zeros, p.zeros], dim=-2),
            last.tokens + p.tokens, p.channels)

    def nbytes(self, model_dtype_bytes: int | None = None) -> int:
        """Bytes held: codes, scales, zeros and the window (at its dtype, or model_dtype_bytes)."""
        n = sum(p.nbytes() for p in self.blocks)
        if self.dequantized is not None:
            n += self.dequantized.numel() * self.dequantized.element_size()
        if self.window is not None:
            n += self.window.numel() * (model_dtype_bytes or self.window.element_size())
        return n


class KvmixLayer(CacheLayerMixin):
    """One decoder layer's cache: keys in format `k`, values in format `v`."""

    is_sliding = False
    is_compileable = False

    def __init__(self, k: QuantFormat, v: QuantFormat, storage: str = "packed"):
        super().__init__()
        if storage not in STORAGES:
            raise ValueError(f"storage '{storage}' is not one of {', '.join(STORAGES)}")
        self.k_format, self.v_format, self.storage = k, v, storage
        self.tokens = 0
        self._k = _Side(k, storage)
        self._v = _Side(v, storage)

    def __repr__(self):
        return f"KvmixLayer(k={self.k_format.name()}, v={self.v_format.name()}, storage={self.storage})"

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        self.dtype, self.device = key_states.dtype, key_states.device
        self.is_initialized = True

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor,
               cache_kwargs: dict[str, Any] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """key_states, value_states [B, H_kv, T_new, D] (RoPE applied to keys). Returns every key
        and value to attend: the stored past as the cache holds it, then the new tokens in full
        precision; then stores the new tokens."""
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        self._k.append(key_states)
        self._v.append(value_states)
        keys, values = self._k.past(), self._v.past()
        self.tokens += key_states.shape[-2]
        self._k.flush(self.tokens)
        self._v.flush(self.tokens)
        # transformers reads .keys/.values in places (e.g. device and dtype queries): the window
        self.keys, self.values = self._k.window, self._v.window
        return keys, values

    def get_mask_sizes(self, cache_position: torch.Tensor) -> tuple[int, int]:
        return self.tokens + cache_position.shape[0], 0

    def get_seq_length(self) -> int:
        return self.tokens

    def get_max_cache_shape(self) -> int:
        return -1

    def reset(self) -> None:
        self.tokens = 0
        self._k = _Side(self.k_format, self.storage)
        self._v = _Side(self.v_format, self.storage)
        self.keys = self.values = None
        self.is_initialized = False

    def reorder_cache(self, beam_idx: torch.LongTensor) -> None:
        raise NotImplementedError("KvmixCache does not reorder (beam search): the packed blocks "
                                  "would each need reindexing")

    def nbytes(self, model_dtype_bytes: int | None = None) -> int:
        return self._k.nbytes(model_dtype_bytes) + self._v.nbytes(model_dtype_bytes)


class KvmixCache(Cache):
    """A transformers Cache with one KvmixLayer per decoder layer, from a kvmix config.

        cache = KvmixCache.from_file("config.json", model.config)
        model.generate(input_ids, past_key_values=cache, ...)

    A cache holds one generation's state: make a new one for each call.
    """

    def __init__(self, config: KvConfig, model_config=None, storage: str = "packed"):
        if model_config is not None:
            config.check_model(model_config)
        self.kv_config = config
        super().__init__(layers=[KvmixLayer(lf.k, lf.v, storage) for lf in config.layers])

    @classmethod
    def from_file(cls, path: str, model_config, storage: str = "packed") -> "KvmixCache":
        """Reads kvmix's config or its Hugging Face export and checks it against the model."""
        text = model_config.get_text_config(decoder=True) if hasattr(model_config, "get_text_config") else model_config
        return cls(load_kv_config(path, num_layers=text.num_hidden_layers), model_config, storage)

    def nbytes(self, model_dtype_bytes: int | None = None) -> int:
        """Bytes the cache holds now: packed codes, scales, zeros, and full-precision windows."""
        return sum(layer.nbytes(model_dtype_bytes) for layer in self.layers)


__all__ = ["KvmixCache", "KvmixLayer", "KvConfigError", "STORAGES"]
