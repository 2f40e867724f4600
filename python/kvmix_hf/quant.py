"""kvmix's quantizers in torch, bit for bit: the same codes, scales, zeros and packed words as
kvmix's kernels (kernels/quant_math.h for the math, kernels/quant_ref.cpp for the order,
kernels/quant_format.h for the layout), and so the same dequantized values.

Bit-exactness rests on the rules kvmix's kernels follow:
  - only IEEE-rounded fp32 operations, one torch op per C++ operation (x - z, then * inv, then
    + 1/2: torch's CPU elementwise kernels round each op and never fuse a multiply-add);
  - scales move onto their storage grid before codes are computed: min/max scales round UP to
    fp16 and asymmetric zeros round DOWN (so the grid still covers the group), mean-based scales
    (1-bit, ternary) round to nearest; these roundings are written here in integer arithmetic on
    the fp32 bit pattern, as in kvmix, instead of trusting a conversion's rounding mode;
  - the one order-dependent reduction (the sum of |x| of the mean-based scales) runs in element
    order, one fp32 add at a time.
Tested against kvmix's own ops (torch.ops.kvmix, loaded from libkvmix_kernels) in
tests/python/hf_cache_agreement_test.py.

Formats (see formats.py): asymmetric uniform, s = (max - min)/(2^b - 1), z = min,
q = clamp(floor((x - z)/s + 1/2), 0, 2^b - 1), x^ = q*s + z (KIVI, arXiv 2402.02750, eq. 1);
symmetric uniform, s = max|x|/(2^(b-1) - 1), offset codes; symmetric 1-bit, x^ = +-mean|x|, and
ternary, t = sign(x) where |x| > s/2 with s = mean|x| (VidKV, arXiv 2503.16257, sec. 3.2); fp8
e4m3 with one scale per head or tensor, s = max|x|/448.

Packed layout of x [lead..., T, D] (kernels/quant_format.h): codes are uint32 words held as int32
(the bit pattern), a group starts on a fresh word and its code i occupies bits [i*b, (i+1)*b) of
the group's little-endian bit stream (3-bit codes straddle words); ternary packs 20 trits per word
in base 3.
  per-channel: codes [lead..., ceil(T/G), D, W], scales and zeros [lead..., ceil(T/G), D]
               (a last partial token group's statistics cover the tokens present; missing codes 0)
  per-token:   codes [lead..., T, D/G, W],       scales and zeros [lead..., T, D/G]
  fp8:         codes [lead..., T, ceil(D/4)] (4 codes per word along channels),
               scales [lead...] per head or [1] per tensor
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .formats import QuantFormat

_F32 = torch.float32
_I64 = torch.int64
_MASK32 = 0xFFFFFFFF
_SIGN = 0x80000000
_F16_MAX_BITS = 0x477FE000      # 65504, the largest fp16
_F32_INF_BITS = 0x7F800000
_F16_TINY_BITS = 0x33800000     # 2^-24, the least fp16 subnormal
_MIN_F32_SCALE = 1.1754943508222875e-38  # 2^-126: 1/s must stay finite (kvmix's kMinF32Scale)
_E4M3_MAX = 448.0               # OCP fp8 e4m3 ("E4M3FN") largest finite value
_TRITS_PER_WORD = 20            # 3^20 < 2^32


# ---- fp32 bit patterns as int64 tensors (room for unsigned 32-bit arithmetic) ------------------

def _bits(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous().view(torch.int32).to(_I64) & _MASK32


def _float(u: torch.Tensor) -> torch.Tensor:
    u = u & _MASK32
    return torch.where(u >= (1 << 31), u - (1 << 32), u).to(torch.int32).view(_F32)


def _f16_round_up(x: torch.Tensor) -> torch.Tensor:
    """The smallest fp16 value >= x, as fp32 (+inf past 65504): kvmix's f16_grid_magnitude."""
    u = _bits(x)
    sign = u & _SIGN
    mag = u & 0x7FFFFFFF
    away = sign == 0
    e = mag >> 23
    # fp16 keeps 10 mantissa bits from 2^-14 up and a fixed quantum 2^-24 below: drop k fp32 bits
    k = torch.where(e >= 113, 13, torch.where(e >= 103, 126 - e, 13))
    drop = (torch.ones_like(k) << k) - 1
    r = (mag + torch.where(away, drop, 0)) & ~drop
    tiny = torch.where(away & (mag != 0), _F16_TINY_BITS, 0)
    top = torch.where(away, _F32_INF_BITS, _F16_MAX_BITS)
    res = torch.where(e < 103, tiny, torch.where(r > _F16_MAX_BITS, top, r))
    return _float(sign | res)


def _f16_round_down(x: torch.Tensor) -> torch.Tensor:
    return -_f16_round_up(-x)


def _store_scale_up(s: torch.Tensor, scale_dtype: str) -> torch.Tensor:
    if scale_dtype == "fp16":
        return _f16_round_up(s)
    return torch.where((s > 0) & (s < _MIN_F32_SCALE), torch.full_like(s, _MIN_F32_SCALE), s)


def _store_zero_down(z: torch.Tensor, scale_dtype: str) -> torch.Tensor:
    return _f16_round_down(z) if scale_dtype == "fp16" else z


def _store_scale_nearest(s: torch.Tensor, scale_dtype: str) -> torch.Tensor:
    if scale_dtype == "fp16":
        return s.to(torch.float16).to(_F32)  # round to nearest even, as c10::Half and kvmix
    return torch.where((s > 0) & (s < _MIN_F32_SCALE), torch.full_like(s, _MIN_F32_SCALE), s)


def _safe_inverse(s: torch.Tensor) -> torch.Tensor:
    return torch.where(s > 0, 1.0 / torch.where(s > 0, s, torch.ones_like(s)), torch.zeros_like(s))


def _storage_dtype(scale_dtype: str) -> torch.dtype:
    return torch.float16 if scale_dtype == "fp16" else _F32


@dataclass
class Packed:
    """One tensor in kvmix's packed layout; zeros is None for formats without them."""
    codes: torch.Tensor           # int32 words (uint32 bit patterns)
    scales: torch.Tensor          # fp16 or fp32
    zeros: torch.Tensor | None
    tokens: int
    channels: int

    def nbytes(self) -> int:
        n = self.codes.numel() * 4 + self.scales.numel() * self.scales.element_size()
        return n + (0 if self.zeros is None else self.zeros.numel() * self.zeros.element_size())


# ---- groups: x [N, T, D] fp32 -> [N, rows, cols, G] with a mask of the elements present ----------

def _grouped(x: torch.Tensor, f: QuantFormat):
    n, t, d = x.shape
    if f.axis == "per-channel":
        g = f.group
        rows = -(-t // g)
        pad = rows * g - t
        xp = torch.nn.functional.pad(x, (0, 0, 0, pad)) if pad else x
        # [N, rows, G, D] -> [N, rows, D, G]: a group is G tokens of one channel, in token order
        xg = xp.view(n, rows, g, d).transpose(2, 3)
        present = (torch.arange(rows * g, device=x.device) < t).view(rows, 1, g)
        return xg, present.expand(rows, d, g), rows, d, g
    g = f.resolved_group(d)
    return x.view(n, t, d // g, g), None, t, d // g, g


def _ungrouped(xg: torch.Tensor, f: QuantFormat, t: int) -> torch.Tensor:
    n, rows, cols, g = xg.shape
    if f.axis == "per-channel":
        return xg.transpose(2, 3).reshape(n, rows * g, cols)[:, :t]
    return xg.reshape(n, rows, cols * g)


def _group_params(xg: torch.Tensor, present, f: QuantFormat):
    """The stored scale and zero of every group, and the inverse (or threshold) codes use."""
    fam = f.family
    inf = torch.tensor(float("inf"), dtype=_F32, device=xg.device)
    if present is None:
        mn, mx = xg.amin(-1), xg.amax(-1)
        count = torch.full(xg.shape[:-1], xg.shape[-1], dtype=_F32, device=xg.device)
    else:
        mn = torch.where(present, xg, inf).amin(-1)
        mx = torch.where(present, xg, -inf).amax(-1)
        count = present.sum(-1).to(_F32).expand(xg.shape[:-1])
    if fam == "asym":
        z = _store_zero_down(mn + 0.0, f.scale_dtype)  # + 0 turns a -0 min into +0, as kvmix
        s = _store_scale_up((mx + 0.0 - z) / float((1 << f.bits) - 1), f.scale_dtype)
        return s, z, _safe_inverse(s)
    amax = torch.maximum(mx.abs(), mn.abs())
    if fam == "sym":
        s = _store_scale_up((amax + 0.0) / float((1 << (f.bits - 1)) - 1), f.scale_dtype)
        return s, None, _safe_inverse(s)
    # mean |x| with the sum in element order, one fp32 add at a time (kvmix's stats_add)
    a = xg.abs() if present is None else torch.where(present, xg.abs(), 0.0)
    total = torch.zeros(xg.shape[:-1], dtype=_F32, device=xg.device)
    for i in range(xg.shape[-1]):
        total = total + a[..., i]
    s = _store_scale_nearest(total / count, f.scale_dtype)
    return s, None, (s * 0.5 if fam == "ternary" else None)


def _codes(xg, s, z, inv, f: QuantFormat) -> torch.Tensor:
    fam = f.family
    if fam == "asym":
        levels = float((1 << f.bits) - 1)
        v = (xg - z.unsqueeze(-1)) * inv.unsqueeze(-1) + 0.5
        return v.clamp(0.0, levels).to(torch.int32).to(_I64)
    if fam == "sym":
        half = float((1 << (f.bits - 1)) - 1)
        v = xg * inv.unsqueeze(-1) + (half + 0.5)
        return v.clamp(0.0, 2.0 * half).to(torch.int32).to(_I64)
    if fam == "sym1":
        return (xg >= 0).to(_I64)
    thr = inv.unsqueeze(-1)  # ternary: s/2
    return torch.where(xg > thr, 2, torch.where(xg < -thr, 0, 1)).to(_I64)


def _values(q: torch.Tensor, s, z, f: QuantFormat) -> torch.Tensor:
    fam = f.family
    qf = q.to(torch.int32).to(_F32)
    s = s.to(_F32).unsqueeze(-1)
    if fam == "asym":
        return qf * s + z.to(_F32).unsqueeze(-1)
    if fam == "sym":
        return (qf - float((1 << (f.bits - 1)) - 1)) * s
    if fam == "sym1":
        return torch.where(q != 0, s, -s)
    return (qf - 1.0) * s


# ---- packing: codes of a group into uint32 words ------------------------------------------------

def _words_per_group(f: QuantFormat, g: int) -> int:
    if f.kind == "ternary":
        return -(-g // _TRITS_PER_WORD)
    return -(-(g * f.bits) // 32)


def _pack(q: torch.Tensor, present, f: QuantFormat) -> torch.Tensor:
    """q [..., G] int64 codes -> [..., W] int32 words. Codes of different elements occupy disjoint
    bits, so adding the shifted codes is the bitwise or of kvmix's put_bits."""
    g = q.shape[-1]
    w = _words_per_group(f, g)
    if present is not None:
        q = torch.where(present, q, 0)  # a partial group's missing codes are 0
    i = torch.arange(g, device=q.device)
    words = torch.zeros(*q.shape[:-1], w + 1, dtype=_I64, device=q.device)
    if f.kind == "ternary":
        words.index_add_(-1, i // _TRITS_PER_WORD, q * (3 ** (i % _TRITS_PER_WORD)))
    else:
        pos = i * f.bits
        lo, sh = pos >> 5, pos & 31
        words.index_add_(-1, lo, (q << sh) & _MASK32)
        # the high part of a code that straddles a word boundary (3-bit codes); 0 otherwise
        words.index_add_(-1, lo + 1, torch.where(sh + f.bits > 32, q >> (32 - sh), 0))
    words = words[..., :w]
    return torch.where(words >= (1 << 31), words - (1 << 32), words).to(torch.int32)


def _unpack(words: torch.Tensor, g: int, f: QuantFormat) -> torch.Tensor:
    """[..., W] int32 words -> [..., G] int64 codes (kvmix's get_bits / get_trit)."""
    u = words.to(_I64) & _MASK32
    i = torch.arange(g, device=words.device)
    if f.kind == "ternary":
        return (u[..., i // _TRITS_PER_WORD] // (3 ** (i % _TRITS_PER_WORD))) % 3
    pos = i * f.bits
    lo, sh = pos >> 5, pos & 31
    v = u[..., lo] >> sh
    hi = torch.clamp(lo + 1, max=u.shape[-1] - 1)
    v = v | torch.where(sh + f.bits > 32, (u[..., hi] << (32 - sh)) & _MASK32, 0)
    return v & ((1 << f.bits) - 1)


# ---- fp8 e4m3 --------------------------------------------------------------------------------

def _fp8_scale(x: torch.Tensor, f: QuantFormat) -> torch.Tensor:
    """[N] per head, or [1] per tensor."""
    amax = x.abs().amax(dim=(1, 2)) if f.fp8_scale == "per-head" else x.abs().amax().reshape(1)
    return _store_scale_up((amax + 0.0) / _E4M3_MAX, f.scale_dtype)


def _fp8_codes(x: torch.Tensor, s: torch.Tensor, f: QuantFormat) -> torch.Tensor:
    n = x.shape[0]
    inv = _safe_inverse(s).view(-1, 1, 1).expand(n, 1, 1)
    # kvmix's f32_to_e4m3 rounds to nearest even and saturates at +-448; torch's conversion rounds
    # the same way but overflows to NaN, so the clamp comes first (it changes nothing below 448).
    y = (x * inv).clamp(-_E4M3_MAX, _E4M3_MAX)
    return y.to(torch.float8_e4m3fn).view(torch.uint8).to(_I64)


def _check_finite(s, z, x, f: QuantFormat, op: str) -> None:
    bad = ~torch.isfinite(s)
    if z is not None:
        bad = bad | ~torch.isfinite(z)
    if bool(bad.any()):
        why = ("the input holds NaN or inf" if not bool(torch.isfinite(x).all()) else
               "a scale or zero overflows fp16 (|x| beyond 65504: use fp32 scales)")
        raise ValueError(f"{op}: format {f.name()}: {int(bad.sum())} group(s) cannot be stored: "
                         f"{why} (kvmix refuses them the same way)")


# ---- the ops ---------------------------------------------------------------------------------

def quantize_pack(x: torch.Tensor, f: QuantFormat) -> Packed:
    """x [lead..., T, D] (fp32, bf16 or fp16) -> kvmix's packed tensor. The format's residual is
    ignored: every token is quantized (the cache decides what stays full precision)."""
    if not f.quantized:
        raise ValueError(f"format {f.name()}: the model dtype is stored as is, nothing to quantize")
    if x.dtype not in (torch.float32, torch.bfloat16, torch.float16):
        raise ValueError(f"quantize_pack: dtype {x.dtype} is not fp32, bf16 or fp16")
    lead, (t, d) = tuple(x.shape[:-2]), x.shape[-2:]
    xf = x.to(_F32).reshape(-1, t, d).contiguous()
    if f.kind == "fp8_e4m3":
        s = _fp8_scale(xf, f)
        _check_finite(s, None, xf, f, "quantize_pack")
        c = _fp8_codes(xf, s, f)
        w = -(-d // 4)
        c = torch.nn.functional.pad(c, (0, 4 * w - d)).view(*c.shape[:2], w, 4)
        words = (c << torch.tensor([0, 8, 16, 24], device=x.device)).sum(-1)
        words = torch.where(words >= (1 << 31), words - (1 << 32), words).to(torch.int32)
        scales = s.to(_F32).view(*lead) if f.fp8_scale == "per-head" else s.to(_F32)
        return Packed(words.view(*lead, t, w), scales, None, t, d)
    xg, present, rows, cols, g = _grouped(xf, f)
    s, z, inv = _group_params(xg, present, f)
    _check_finite(s, z, xf, f, "quantize_pack")
    q = _codes(xg, s, z, inv, f)
    words = _pack(q, present, f)
    sd = _storage_dtype(f.scale_dtype)
    return Packed(words.view(*lead, rows, cols, -1), s.to(sd).view(*lead, rows, cols),
                  None if z is None else z.to(sd).view(*lead, rows, cols), t, d)


def unpack_dequantize(p: Packed, f: QuantFormat, dtype: torch.dtype) -> torch.Tensor:
    """kvmix's packed tensor -> [lead..., T, D] in `dtype` (values computed in fp32, then rounded
    to nearest even into dtype, as kvmix's store_elem)."""
    t, d = p.tokens, p.channels
    if f.kind == "fp8_e4m3":
        lead = tuple(p.codes.shape[:-2])
        u = p.codes.to(_I64).reshape(-1, t, p.codes.shape[-1]) & _MASK32
        c = ((u.unsqueeze(-1) >> torch.tensor([0, 8, 16, 24], device=u.device)) & 0xFF)
        c = c.reshape(u.shape[0], t, -1)[..., :d]
        n = c.shape[0]
        vals = c.to(torch.uint8).view(torch.float8_e4m3fn).to(_F32)
        s = p.scales.to(_F32).view(-1, 1, 1).expand(n, 1, 1)
        return (vals * s).view(*lead, t, d).to(dtype)
    lead = tuple(p.codes.shape[:-3])
    rows, cols = p.codes.shape[-3], p.codes.shape[-2]
    g = f.group if f.axis == "per-channel" else f.resolved_group(d)
    q = _unpack(p.codes.reshape(-1, rows, cols, p.codes.shape[-1]), g, f)
    s = p.scales.reshape(-1, rows, cols)
    z = None if p.zeros is None else p.zeros.reshape(-1, rows, cols)
    x = _ungrouped(_values(q, s, z, f), f, t)
    return x.reshape(*lead, t, d).to(dtype).contiguous()


def fake_quant(x: torch.Tensor, f: QuantFormat) -> torch.Tensor:
    """quantize_pack then unpack_dequantize: x^ in x's dtype."""
    return unpack_dequantize(quantize_pack(x, f), f, x.dtype)
