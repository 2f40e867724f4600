// CPU kernels for fp8 e4m3 with one scale per head or per tensor: a first pass finds max|x| per
// head (order-free, so any split across threads gives the reference's result), a second encodes
// rows, 4 codes per word along channels. Variants: quantize+pack, fused fake-quant, dequantize.
#include <omp.h>

#include <vector>

#include "kernels/cpu_target.h"
#include "kernels/elem_rows.h"
#include "kernels/quant_cpu_codec.h"

namespace kvmix::cpu {

using namespace qmath;

namespace {

constexpr int kLanes = 16;

// max|x| and the NaN probe of a row, in 16 lanes.
KVMIX_CPU_CLONES void row_amax(const float* x, int64_t n, float* amax, float* probe) {
  float pa[kLanes] = {}, pp[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int j = 0; j < kLanes; ++j) {
      const float v = x[i + j];
      const float av = v < 0.0f ? -v : v;
      pa[j] = av > pa[j] ? av : pa[j];
      pp[j] = pp[j] + v * 0.0f;
    }
  }
  for (; i < n; ++i) {
    const float av = x[i] < 0.0f ? -x[i] : x[i];
    pa[0] = av > pa[0] ? av : pa[0];
    pp[0] = pp[0] + x[i] * 0.0f;
  }
  for (int j = 0; j < kLanes; ++j) {
    *amax = pa[j] > *amax ? pa[j] : *amax;
    *probe = *probe + pp[j];
  }
}

}  // namespace

int64_t quantize_fp8(const QuantFormat& f, const PackedLayout& l, const void* x, ElemType xt,
                     uint32_t* codes, void* scales, void* fake_out) {
  const bool per_head = f.fp8_scope == Fp8Scope::kPerHead;
  const int64_t D = l.channels, W = l.words, rows = l.lead * l.tokens;
  const int64_t nscales = per_head ? l.lead : 1;
  std::vector<float> amax(static_cast<size_t>(nscales), 0.0f), probe(amax);
#pragma omp parallel
  {
    Scratch sc;
    std::vector<float> la(static_cast<size_t>(nscales), 0.0f), lp(la);
#pragma omp for schedule(static) nowait
    for (int64_t row = 0; row < rows; ++row) {
      const int64_t si = per_head ? row / l.tokens : 0;
      row_amax(row_as_f32(x, xt, row * D, D, Scratch::grow(sc.x, D)), D, &la[si], &lp[si]);
    }
#pragma omp critical
    for (int64_t si = 0; si < nscales; ++si) {
      amax[si] = la[si] > amax[si] ? la[si] : amax[si];
      probe[si] = probe[si] + lp[si];
    }
  }
  std::vector<GroupParams> params(static_cast<size_t>(nscales));
  int64_t bad = 0;
  for (int64_t si = 0; si < nscales; ++si) {
    params[si] = Fp8::params(amax[si], probe[si], f.scale_dtype);
    bad += is_finite(params[si].scale) ? 0 : 1;
    if (scales) store_scale(scales, f.scale_dtype, si, params[si].scale);
  }
#pragma omp parallel
  {
    Scratch sc;
#pragma omp for schedule(static)
    for (int64_t row = 0; row < rows; ++row) {
      const GroupParams p = params[per_head ? row / l.tokens : 0];
      const float* xr = row_as_f32(x, xt, row * D, D, Scratch::grow(sc.x, D));
      if (fake_out) {
        float* o = xt == ElemType::kF32 ? static_cast<float*>(fake_out) + row * D
                                        : Scratch::grow(sc.out, D);
        for (int64_t d = 0; d < D; ++d) o[d] = Fp8::value(Fp8::code(xr[d], p), p);
        if (xt != ElemType::kF32) store_row_f32(o, D, xt, fake_out, row * D);
      } else {
        uint32_t* out = codes + row * W;
        for (int64_t w = 0; w < W; ++w) out[w] = 0;
        for (int64_t d = 0; d < D; ++d) out[d / 4] |= Fp8::code(xr[d], p) << (8 * (d % 4));
      }
    }
  }
  return bad;
}

void dequantize_fp8(const QuantFormat& f, const PackedLayout& l, const uint32_t* codes,
                    const void* scales, void* out, ElemType ot) {
  const bool per_head = f.fp8_scope == Fp8Scope::kPerHead;
  const int64_t D = l.channels, W = l.words, rows = l.lead * l.tokens;
#pragma omp parallel
  {
    Scratch sc;
#pragma omp for schedule(static)
    for (int64_t row = 0; row < rows; ++row) {
      const GroupParams p{load_scale(scales, f.scale_dtype, per_head ? row / l.tokens : 0), 0.0f,
                          0.0f};
      const uint32_t* in = codes + row * W;
      float* o = ot == ElemType::kF32 ? static_cast<float*>(out) + row * D
                                      : Scratch::grow(sc.out, D);
      for (int64_t d = 0; d < D; ++d) o[d] = Fp8::value((in[d / 4] >> (8 * (d % 4))) & 0xFFu, p);
      if (ot != ElemType::kF32) store_row_f32(o, D, ot, out, row * D);
    }
  }
}

}  // namespace kvmix::cpu
