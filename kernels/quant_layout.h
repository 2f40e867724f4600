#pragma once
// The packed layout of one tensor under one format, resolved to numbers: the kernels (reference,
// CPU, CUDA), the launchers, true_bytes and the tests all read shapes from here.
//
// A tensor x [lead..., T, D] is seen as N = prod(lead) independent [T, D] slices ("heads").
// Groups form a [rows, cols] grid per slice:
//   per-channel (uniform, ternary): rows = ceil(T/G) token groups, cols = D channels
//   per-token   (uniform, ternary): rows = T tokens,               cols = D/G channel groups
//   fp8:                            rows = T tokens,               cols = 1 (a word row of ceil(D/4))
// codes   [N, rows, cols, W] uint32   (W = words per group; fp8: ceil(D/4))
// scales  [N, rows, cols]             (fp8: [N] per head or [1] per tensor)
// zeros   like scales, asymmetric uniform only
// Plain C++ (no torch, no fmt), so nvcc can include it.
#include <cstdint>

#include "kernels/hd.h"
#include "kernels/quant_format.h"

namespace kvmix {

// The element dtypes a kernel reads or writes.
enum class ElemType : uint8_t { kF32, kBF16, kF16 };

KVMIX_HD int elem_bytes(ElemType t) { return t == ElemType::kF32 ? 4 : 2; }

struct PackedLayout {
  int64_t lead = 1;      // N
  int64_t tokens = 0;    // T
  int64_t channels = 0;  // D
  int64_t group = 0;     // G resolved: tokens per group (per-channel) or channels (per-token)
  int64_t words = 0;     // W
  int64_t rows = 0;
  int64_t cols = 0;

  KVMIX_HD int64_t groups_per_slice() const { return rows * cols; }
  KVMIX_HD int64_t groups() const { return lead * rows * cols; }
  KVMIX_HD int64_t code_words() const { return groups() * words; }
  KVMIX_HD int64_t elements() const { return lead * tokens * channels; }
};

// The format family a kernel dispatches on.
enum class QuantFamily : uint8_t { kAsym, kSym, kSym1, kTernary, kFp8 };

KVMIX_HD QuantFamily quant_family(const QuantFormat& f) {
  if (f.kind == QuantKind::kTernary) return QuantFamily::kTernary;
  if (f.kind == QuantKind::kFp8E4M3) return QuantFamily::kFp8;
  if (!f.symmetric) return QuantFamily::kAsym;
  return f.bits == 1 ? QuantFamily::kSym1 : QuantFamily::kSym;
}

KVMIX_HD bool has_zeros(const QuantFormat& f) { return quant_family(f) == QuantFamily::kAsym; }

// Number of scales a packed tensor stores (fp8 per tensor: 1).
KVMIX_HD int64_t scale_count(const QuantFormat& f, const PackedLayout& l) {
  if (f.kind == QuantKind::kFp8E4M3) return f.fp8_scope == Fp8Scope::kPerHead ? l.lead : 1;
  return l.groups();
}

// Throws kvmix::Error when the format cannot store a tensor of `channels` channels: kNone, bits
// outside {1, 2, 3, 4, 8}, a group < 0, per-channel group 0, a per-token group not dividing D.
void validate_format(const QuantFormat& f, int64_t channels);

// The layout of x [lead..., T, D] (lead = N slices) under f; validates f first.
PackedLayout packed_layout(const QuantFormat& f, int64_t lead, int64_t tokens, int64_t channels);

}  // namespace kvmix
