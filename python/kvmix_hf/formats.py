"""kvmix's KV formats and per-layer configs, read and validated in Python.

A format says how one key or value tensor [batch, kv_heads, tokens, head_dim] is stored; the
meaning of every field is kvmix's (kernels/quant_format.h, lib/kv_config.schema.json):

  kind       "uniform" integer codes, "ternary" (1.58-bit), "fp8_e4m3", or "fp16" (kept in the
             model dtype, unquantized)
  bits       uniform code width: 1, 2, 3, 4 or 8
  axis       "per-channel": a group is `group` consecutive TOKENS of one channel (KIVI's keys);
             "per-token": a group is `group` consecutive CHANNELS of one token (KIVI's values)
  group      elements per scale; 0 = the whole head_dim (per-token only)
  symmetric  uniform only: zero-point fixed at 0
  scale_dtype  "fp16" or "fp32" storage of scales and zeros
  residual   newest tokens kept in the model dtype (KIVI's full-precision window)
  fp8_scale  fp8 only: one scale per head or per tensor

Two files are read: kvmix's own config (schema "kvmix.kv_config", version 1: what `kvmix tune`
writes) and kvmix's Hugging Face export (hf_quantized_cache.json, `kvmix export --target hf`).
Every problem is a KvConfigError naming the file and the field, raised before any tensor is
touched.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

KV_CONFIG_SCHEMA = "kvmix.kv_config"
KV_CONFIG_VERSION = 1
UNIFORM_BITS = (1, 2, 3, 4, 8)
MAX_GROUP = 1 << 16        # kvmix's sanity bound on a group (kernels/quant_layout.cpp)
MAX_RESIDUAL = 1 << 24     # the schema's bound on a residual window (tokens)
# The scheme constants of lib/kv_pair.cpp: KIVI (arXiv 2402.02750) keys per channel and values
# per token in groups of 32 with 32 full-precision tokens; per-token: one group per head, no window.
KIVI_GROUP = 32
KIVI_RESIDUAL = 32


class KvConfigError(ValueError):
    """A config file kvmix_hf cannot use; the message names the file and the problem."""


@dataclass(frozen=True)
class QuantFormat:
    kind: str = "fp16"            # fp16 | uniform | ternary | fp8_e4m3
    bits: int = 16
    axis: str = "per-token"       # per-channel | per-token
    group: int = 0
    symmetric: bool = False
    scale_dtype: str = "fp16"     # fp16 | fp32
    residual: int = 0
    fp8_scale: str = "per-head"   # per-head | per-tensor

    @property
    def quantized(self) -> bool:
        return self.kind != "fp16"

    @property
    def family(self) -> str:
        """The math a group follows (kernels/quant_layout.h, quant_family)."""
        if self.kind in ("ternary", "fp8_e4m3"):
            return self.kind
        if not self.symmetric:
            return "asym"
        return "sym1" if self.bits == 1 else "sym"

    def resolved_group(self, head_dim: int) -> int:
        return head_dim if self.group == 0 else self.group

    def name(self) -> str:
        """kvmix's short name (kernels/format_name.cpp), e.g. u4-asym-ch-g32-f16-r32."""
        if self.kind == "fp16":
            return "fp16"
        r = f"-r{self.residual}" if self.residual else ""
        if self.kind == "fp8_e4m3":
            return ("fp8e4m3-head" if self.fp8_scale == "per-head" else "fp8e4m3-tensor") + r
        head = "t1.58" if self.kind == "ternary" else f"u{self.bits}-{'sym' if self.symmetric else 'asym'}"
        axis = "ch" if self.axis == "per-channel" else "tok"
        sd = "f16" if self.scale_dtype == "fp16" else "f32"
        g = "gD" if self.group == 0 else f"g{self.group}"
        return f"{head}-{axis}-{g}-{sd}{r}"


FP16 = QuantFormat()


def residual_tokens(f: QuantFormat, tokens: int) -> int:
    """Tokens of a `tokens`-long cache that stay in the model dtype (kernels/quant_format.h):
    per-channel groups leave the window max(residual, group) tokens at a time, so it holds
    tokens mod max(residual, group); every other format keeps a sliding window of the newest
    min(tokens, residual)."""
    if not f.quantized:
        return tokens
    if f.kind in ("uniform", "ternary") and f.axis == "per-channel":
        return tokens % max(f.residual, max(f.group, 1))
    return min(tokens, f.residual)


def check_format(f: QuantFormat, head_dim: int, where: str) -> None:
    """kvmix's validate_format: a format must be able to store a head of head_dim channels."""
    if not f.quantized or f.kind == "fp8_e4m3":
        return
    if f.kind == "uniform" and f.bits not in UNIFORM_BITS:
        raise KvConfigError(f"{where}: uniform formats have 1, 2, 3, 4 or 8 bits, not {f.bits}")
    if not 0 <= f.group <= MAX_GROUP:
        raise KvConfigError(f"{where}: group {f.group} is outside [0, {MAX_GROUP}]")
    if f.axis == "per-channel" and f.group <= 0:
        raise KvConfigError(f"{where}: a per-channel format needs a group size >= 1 (tokens per "
                            "group); group 0 = head_dim is defined for per-token groups only")
    if f.axis == "per-token" and head_dim % f.resolved_group(head_dim) != 0:
        raise KvConfigError(f"{where}: per-token group {f.group} does not divide head_dim {head_dim}")


# ---- small typed readers: each names the file and the field it refuses -------------------------

def _get(obj: dict, key: str, where: str, types, default=None, required=False):
    if key not in obj:
        if required:
            raise KvConfigError(f"{where}: missing required field '{key}'")
        return default
    v = obj[key]
    # bool is an int in Python; a JSON true is never a number here
    if isinstance(v, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise KvConfigError(f"{where}.{key}: expected {_type_name(types)}, got {json.dumps(v)}")
    if not isinstance(v, types):
        raise KvConfigError(f"{where}.{key}: expected {_type_name(types)}, got {json.dumps(v)}")
    return v


def _type_name(types) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
             dict: "an object", list: "an array"}
    types = types if isinstance(types, tuple) else (types,)
    return " or ".join(names.get(t, t.__name__) for t in types)


def _int(obj, key, where, lo, hi, default=None, required=False) -> int:
    v = _get(obj, key, where, (int, float), default, required)
    if v is None:
        return v
    if isinstance(v, float) and not v.is_integer():
        raise KvConfigError(f"{where}.{key}: expected an integer, got {v}")
    v = int(v)
    if not lo <= v <= hi:
        raise KvConfigError(f"{where}.{key}: {v} is outside [{lo}, {hi}]")
    return v


def _enum(obj, key, where, allowed, default=None, required=False) -> str:
    v = _get(obj, key, where, str, default, required)
    if v is not None and v not in allowed:
        raise KvConfigError(f"{where}.{key}: '{v}' is not one of {', '.join(allowed)}")
    return v


def _no_unknown(obj: dict, allowed, where: str) -> None:
    extra = sorted(set(obj) - set(allowed))
    if extra:
        raise KvConfigError(f"{where}: unknown field(s) {', '.join(extra)} (allowed: "
                            f"{', '.join(sorted(allowed))})")


_FORMAT_FIELDS = ("family", "bits", "axis", "group", "symmetric", "scale_dtype", "scales",
                  "residual", "fp8_scale", "packing")


def format_from_json(j, where: str) -> QuantFormat:
    """One entry of a kvmix config's "formats" table (lib/kv_config.cpp, format_from_json)."""
    if not isinstance(j, dict):
        raise KvConfigError(f"{where}: a format is an object, got {json.dumps(j)}")
    _no_unknown(j, _FORMAT_FIELDS, where)
    family = _enum(j, "family", where, ("fp16", "uniform", "ternary", "fp8_e4m3"), required=True)
    bits = _get(j, "bits", where, (int, float), required=True)
    if not 1 <= bits <= 16:
        raise KvConfigError(f"{where}.bits: {bits} is outside [1, 16]")
    _enum(j, "scales", where, ("dynamic",))
    _get(j, "packing", where, str)
    residual = _int(j, "residual", where, 0, MAX_RESIDUAL, default=0)
    if family == "fp16":
        return FP16
    if family == "fp8_e4m3":
        scope = _enum(j, "fp8_scale", where, ("per-head", "per-tensor"), default="per-head")
        return QuantFormat(kind="fp8_e4m3", bits=8, scale_dtype="fp32", residual=residual,
                           fp8_scale=scope)
    axis = _enum(j, "axis", where, ("per-channel", "per-token"), default="per-token")
    group = _int(j, "group", where, 0, MAX_GROUP, default=0)
    scale_dtype = _enum(j, "scale_dtype", where, ("fp16", "fp32"), default="fp16")
    symmetric = _get(j, "symmetric", where, bool, default=False)
    if family == "ternary":
        return QuantFormat(kind="ternary", bits=2, axis=axis, group=group, symmetric=True,
                           scale_dtype=scale_dtype, residual=residual)
    if float(bits) != int(bits) or int(bits) not in UNIFORM_BITS:
        raise KvConfigError(f"{where}.bits: uniform formats have 1, 2, 3, 4 or 8 bits, not {bits}")
    if axis == "per-channel" and group <= 0:
        raise KvConfigError(f"{where}: a per-channel format needs a group size (tokens per group)")
    return QuantFormat(kind="uniform", bits=int(bits), axis=axis, group=group, symmetric=symmetric,
                       scale_dtype=scale_dtype, residual=residual)


@dataclass(frozen=True)
class LayerFormats:
    k: QuantFormat
    v: QuantFormat


@dataclass
class KvConfig:
    """The per-layer formats and, when the file says, the model shape they were made for."""
    layers: list                  # [LayerFormats], one per decoder layer
    source: str                   # the file it came from (for error messages)
    architecture: str | None = None
    num_attention_heads: int | None = None
    num_key_value_heads: int | None = None
    head_dim: int | None = None

    def check_model(self, model_config) -> None:
        """Refuses a config made for another model shape, naming the field that differs."""
        text = model_config.get_text_config(decoder=True) if hasattr(model_config, "get_text_config") else model_config
        n_layers = text.num_hidden_layers
        if len(self.layers) != n_layers:
            raise KvConfigError(f"{self.source}: {len(self.layers)} layers, but the model has {n_layers}")
        heads = text.num_attention_heads
        kv_heads = getattr(text, "num_key_value_heads", None) or heads
        head_dim = getattr(text, "head_dim", None) or text.hidden_size // heads
        for field, mine, theirs in (("num_attention_heads", self.num_attention_heads, heads),
                                    ("num_key_value_heads", self.num_key_value_heads, kv_heads),
                                    ("head_dim", self.head_dim, head_dim)):
            if mine is not None and mine != theirs:
                raise KvConfigError(f"{self.source}: model.{field} is {mine}, but the model has {theirs}")
        arch = getattr(text, "model_type", None)
        if self.architecture is not None and arch is not None and self.architecture != arch:
            raise KvConfigError(f"{self.source}: model.architecture is {self.architecture}, but the "
                                f"model is {arch}")
        for i, lf in enumerate(self.layers):
            for side, f in (("k", lf.k), ("v", lf.v)):
                check_format(f, head_dim, f"{self.source}: layer {i} {side} ({f.name()})")


_TOP_FIELDS = ("schema", "version", "producer", "provenance", "model", "kv_dtype_bytes", "formats",
               "layers", "totals")
_MODEL_FIELDS = ("architecture", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
                 "head_dim", "config_hash", "k_proj_module", "v_proj_module")


def kv_config_from_json(j, source: str) -> KvConfig:
    """kvmix's own config (lib/kv_config.schema.json): the schema's rules, then kvmix's semantic
    checks (every layer exactly once, names that exist, formats that fit head_dim)."""
    if not isinstance(j, dict):
        raise KvConfigError(f"{source}: expected a JSON object at the top level")
    if j.get("schema") != KV_CONFIG_SCHEMA:
        raise KvConfigError(f"{source}: schema is {json.dumps(j.get('schema'))}, expected "
                            f"\"{KV_CONFIG_SCHEMA}\" (a kvmix config; for kvmix's Hugging Face "
                            "export use load_hf_export)")
    if j.get("version") != KV_CONFIG_VERSION:
        raise KvConfigError(f"{source}: version {json.dumps(j.get('version'))} is not supported "
                            f"(this reader knows version {KV_CONFIG_VERSION})")
    _no_unknown(j, _TOP_FIELDS, source)
    for key in ("producer", "model", "kv_dtype_bytes", "formats", "layers", "totals"):
        if key not in j:
            raise KvConfigError(f"{source}: missing required field '{key}'")
    if j["kv_dtype_bytes"] not in (1, 2, 4) or isinstance(j["kv_dtype_bytes"], bool):
        raise KvConfigError(f"{source}.kv_dtype_bytes: {json.dumps(j['kv_dtype_bytes'])} is not 1, 2 or 4")
    m = _get(j, "model", source, dict, required=True)
    w = f"{source}: model"
    _no_unknown(m, _MODEL_FIELDS, w)
    arch = _enum(m, "architecture", w, ("llama", "mistral", "qwen2"), required=True)
    n_layers = _int(m, "num_hidden_layers", w, 1, 4096, required=True)
    heads = _int(m, "num_attention_heads", w, 1, 4096, required=True)
    kv_heads = _int(m, "num_key_value_heads", w, 1, 4096, required=True)
    head_dim = _int(m, "head_dim", w, 1, 65536, required=True)

    table = _get(j, "formats", source, dict, required=True)
    if not table:
        raise KvConfigError(f"{source}: formats is empty")
    formats = {name: format_from_json(f, f"{source}: formats.{name}") for name, f in table.items()}
    entries = _get(j, "layers", source, list, required=True)
    if len(entries) != n_layers:
        raise KvConfigError(f"{source}: {len(entries)} layer entries for a model of {n_layers} layers")
    layers = [None] * n_layers
    for idx, e in enumerate(entries):
        w = f"{source}: layers[{idx}]"
        if not isinstance(e, dict):
            raise KvConfigError(f"{w}: expected an object")
        _no_unknown(e, ("layer", "k", "v", "k_bytes_per_token", "v_bytes_per_token"), w)
        layer = _int(e, "layer", w, 0, n_layers - 1, required=True)
        if layers[layer] is not None:
            raise KvConfigError(f"{source}: layer {layer} appears twice")
        sides = []
        for side in ("k", "v"):
            name = _get(e, side, w, str, required=True)
            if name not in formats:
                raise KvConfigError(f"{source}: layer {layer} {side} names format '{name}', which "
                                    "is not in formats")
            f = formats[name]
            check_format(f, head_dim, f"{source}: layer {layer} {side} ({name})")
            sides.append(f)
        layers[layer] = LayerFormats(*sides)
    return KvConfig(layers=layers, source=source, architecture=arch, num_attention_heads=heads,
                    num_key_value_heads=kv_heads, head_dim=head_dim)


_HF_LAYER_FIELDS = ("nbits_key", "nbits_value", "axis_key", "axis_value", "q_group_size",
                    "residual_length")


def _hf_format(bits: int, axis: int, group: int, residual: int) -> QuantFormat:
    # HQQ's axis 0 groups along tokens (per-channel, KIVI keys), axis 1 along channels.
    return QuantFormat(kind="uniform", bits=bits, axis="per-channel" if axis == 0 else "per-token",
                       group=group, residual=residual)


def hf_export_from_json(j, source: str, num_layers: int | None = None) -> KvConfig:
    """kvmix's Hugging Face export (lib/export/hf_quantized_cache.h): transformers' quantized-cache
    config plus KVTuner's per_layer_config list. It is read as kvmix formats: asymmetric uniform
    codes with fp16 scales and zeros, per layer and side (what the export can say; formats it
    lowered, such as fp16 layers written as 8 bits, come back lowered). Without a per-layer table
    the global values apply to every one of `num_layers` layers."""
    if not isinstance(j, dict) or "cache_config" not in j:
        raise KvConfigError(f"{source}: expected an object with 'cache_config' (kvmix's Hugging "
                            "Face export, hf_quantized_cache.json)")
    impl = j.get("cache_implementation")
    if impl != "quantized":
        raise KvConfigError(f"{source}: cache_implementation is {json.dumps(impl)}, expected \"quantized\"")
    c = _get(j, "cache_config", source, dict, required=True)
    w = f"{source}: cache_config"
    backend = _get(c, "backend", w, str, default="HQQ")
    if backend.lower() not in ("hqq", "quanto"):
        raise KvConfigError(f"{w}.backend: '{backend}' is not HQQ or quanto")

    def side_formats(obj, where, k_bits_key, v_bits_key, default):
        kb = _int(obj, k_bits_key, where, 1, 8, default=default.get("k_bits"), required="k_bits" not in default)
        vb = _int(obj, v_bits_key, where, 1, 8, default=default.get("v_bits"), required="v_bits" not in default)
        for key, b in ((k_bits_key, kb), (v_bits_key, vb)):
            if b not in UNIFORM_BITS:
                raise KvConfigError(f"{where}.{key}: {b} bits is not one of 1, 2, 3, 4, 8")
        ak = _int(obj, "axis_key", where, 0, 1, default=default.get("axis_key"), required="axis_key" not in default)
        av = _int(obj, "axis_value", where, 0, 1, default=default.get("axis_value"), required="axis_value" not in default)
        g = _int(obj, "q_group_size", where, 1, MAX_GROUP, default=default.get("group"), required="group" not in default)
        r = _int(obj, "residual_length", where, 0, MAX_RESIDUAL, default=default.get("residual"), required="residual" not in default)
        return LayerFormats(_hf_format(kb, ak, g, r), _hf_format(vb, av, g, r)), \
            {"k_bits": kb, "v_bits": vb, "axis_key": ak, "axis_value": av, "group": g, "residual": r}

    nbits = _int(c, "nbits", w, 1, 8, default=4)
    glob, defaults = side_formats(
        {**c, "nbits_key": nbits, "nbits_value": nbits}, w, "nbits_key", "nbits_value",
        {"axis_key": 0, "axis_value": 0, "group": 64, "residual": 128})
    table = c.get("per_layer_config")
    if c.get("per_layer_quant") and table is not None:
        if not isinstance(table, list) or not table:
            raise KvConfigError(f"{w}.per_layer_config: expected a non-empty list, one entry per layer")
        if num_layers is not None and len(table) != num_layers:
            raise KvConfigError(f"{w}.per_layer_config: {len(table)} entries, but the model has "
                                f"{num_layers} layers")
        layers = []
        for i, e in enumerate(table):
            where = f"{w}.per_layer_config[{i}]"
            if not isinstance(e, dict):
                raise KvConfigError(f"{where}: expected an object")
            _no_unknown(e, _HF_LAYER_FIELDS, where)
            layers.append(side_formats(e, where, "nbits_key", "nbits_value",
                                       {k: v for k, v in defaults.items() if k not in ("k_bits", "v_bits")})[0])
    else:
        if num_layers is None:
            raise KvConfigError(f"{source}: no per_layer_config: the number of layers must come "
                                "from the model")
        layers = [glob] * num_layers
    return KvConfig(layers=layers, source=source)


def _read_json(path: str):
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise KvConfigError(f"{path}: cannot read: {e.strerror}") from None
    try:
        return json.loads(text, parse_constant=lambda c: _bad_constant(path, c))
    except json.JSONDecodeError as e:
        raise KvConfigError(f"{path}:{e.lineno}:{e.colno}: not valid JSON: {e.msg}") from None


def _bad_constant(path, c):
    raise KvConfigError(f"{path}: {c} is not a JSON number")


def load_kv_config(path: str, num_layers: int | None = None) -> KvConfig:
    """Reads kvmix's config or its Hugging Face export, whichever the file is."""
    j = _read_json(path)
    if isinstance(j, dict) and "cache_config" in j and "schema" not in j:
        return hf_export_from_json(j, path, num_layers)
    return kv_config_from_json(j, path)


def uniform_config(scheme: str, k_bits: int, v_bits: int, num_layers: int) -> KvConfig:
    """One (K bits, V bits) pair on every layer under kvmix's schemes (lib/kv_pair.cpp): kivi =
    keys per channel, values per token, group 32, residual 32; per-token = group head_dim, no
    window. 16 bits keeps that side in the model dtype."""
    if scheme not in ("kivi", "per-token"):
        raise KvConfigError(f"unknown scheme '{scheme}' (expected kivi or per-token)")

    def fmt(bits, axis):
        if bits >= 16:
            return FP16
        if bits not in UNIFORM_BITS:
            raise KvConfigError(f"{bits} bits is not supported (1, 2, 3, 4, 8, 16)")
        if scheme == "kivi":
            return QuantFormat(kind="uniform", bits=bits, axis=axis, group=KIVI_GROUP,
                               residual=KIVI_RESIDUAL)
        return QuantFormat(kind="uniform", bits=bits, axis="per-token", group=0, residual=0)

    lf = LayerFormats(fmt(k_bits, "per-channel"), fmt(v_bits, "per-token"))
    return KvConfig(layers=[lf] * num_layers, source=f"K{k_bits}V{v_bits} {scheme}")

