#pragma once
// The rules a quantized cache follows, shared by the fake-quant and the packed cache so the two
// store exactly the same numbers (KIVI, arXiv 2402.02750, Algorithm 1):
//  - keys (per-channel groups along tokens) leave the full-precision residual R tokens at a time
//    (whole groups), so between flushes the residual holds T mod max(R, G) tokens;
//  - values (per-token groups) leave a sliding window of the newest R tokens one by one;
//  - a step's new tokens are attended in full precision, and flushed after the attention.
#include <ATen/core/Tensor.h>

#include "kernels/quant_format.h"

namespace kvmix {

// Slots (of `slots` held) that are quantized under format f: slots - residual_tokens(f, slots).
int64_t quantized_slots(const QuantFormat& f, int64_t slots);

// Left padding puts invalid slots inside token groups; their values would stretch the group's
// range. Before a per-channel block [B, H, n, D] (n a multiple of G) is quantized, each invalid
// slot takes the mean of the valid slots of its group (a value inside the group's range). Per-token
// formats group within one token, so padding cannot affect real tokens and x is returned as is.
at::Tensor fill_padding_for_grouping(const at::Tensor& x, const at::Tensor& valid,
                                     const QuantFormat& f);

// x [B, H, n, D] as a cache holding n slots stores it: slots [from, quantized_slots(f, n)) replaced
// by their fake-quantized values (padding filled first), the rest untouched. Returns the number
// of slots now quantized. Slots before `from` are assumed quantized already.
int64_t fake_quant_slots(at::Tensor& x, const at::Tensor& valid, const QuantFormat& f, int64_t from);

}  // namespace kvmix
