#pragma once
// Converting rows of model-dtype elements to and from fp32 for the CPU kernels, which compute in
// fp32 on a row or block held in cache. Conversions round to nearest even (the same functions as
// kernels/quant_math.h, or the F16C instructions, which round identically).
#include <cstdint>

#include "kernels/quant_layout.h"  // ElemType

namespace kvmix {

// dst[0, n) = src[offset, offset + n) as fp32.
void load_row_f32(const void* src, ElemType t, int64_t offset, int64_t n, float* dst);

// dst[offset, offset + n) = src[0, n) converted to t.
void store_row_f32(const float* src, int64_t n, ElemType t, void* dst, int64_t offset);

// src[offset, offset + n) as fp32: src itself when it already is fp32, else converted into scratch.
inline const float* row_as_f32(const void* src, ElemType t, int64_t offset, int64_t n,
                               float* scratch) {
  if (t == ElemType::kF32) return static_cast<const float*>(src) + offset;
  load_row_f32(src, t, offset, n, scratch);
  return scratch;
}

}  // namespace kvmix
