// CUDA quantize+pack, unpack+dequantize and fused fake-quant for every format, mirroring the
// reference (kernels/quant_ref.cpp) line for line with the same per-element math
// (kernels/quant_math.h), so codes and values are bit-identical; built with --fmad=false.
//
//   groups kernel     one thread per group: statistics in element order, parameters, then
//                     the codes (or, fused, the dequantized values) of its G elements
//   values kernel     one thread per element: locate its group, unpack, dequantize
//   fp8 kernels       max|x| per head (block reduction, atomicMax on the bits of a
//                     non-negative float, order-free), the scales, then one thread per word
// No torch here: kernels/ops_torch_cuda.cpp checks the arguments and allocates.
#include "kernels/cuda_check.h"
#include "kernels/quant_kernels.h"
#include "kernels/quant_math.h"

namespace kvmix {

using namespace qmath;

namespace {

constexpr int kThreads = 256;

int blocks_for(int64_t n) { return static_cast<int>((n + kThreads - 1) / kThreads); }

// Group g of the layout: element i of it sits at x[element(i)]; `count` elements are present.
struct DevGroup {
  int64_t first, step, count;
};

__device__ DevGroup group_of(const PackedLayout& l, bool per_channel, int64_t g) {
  const int64_t n = g / (l.rows * l.cols), r = (g / l.cols) % l.rows, c = g % l.cols;
  if (per_channel) {
    const int64_t left = l.tokens - r * l.group;
    return {(n * l.tokens + r * l.group) * l.channels + c, l.channels,
            left < l.group ? left : l.group};
  }
  return {(n * l.tokens + r) * l.channels + c * l.group, 1, l.group};
}

__global__ void groups_kernel(QuantFormat f, PackedLayout l, const void* x, ElemType xt,
                              uint32_t* codes, void* scales, void* zeros, void* fake_out,
                              unsigned long long* bad) {
  const int64_t g = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (g >= l.groups()) return;
  const QuantFamily fam = quant_family(f);
  const DevGroup grp = group_of(l, f.axis == QuantAxis::kPerChannel, g);
  GroupStats st = stats_init();
  for (int64_t i = 0; i < grp.count; ++i) stats_add(st, load_elem(x, xt, grp.first + i * grp.step));
  const GroupParams p = family_params(fam, st, static_cast<int>(grp.count), f.bits, f.scale_dtype);
  if (!(is_finite(p.scale) && is_finite(p.zero))) atomicAdd(bad, 1ull);
  if (fake_out) {
    for (int64_t i = 0; i < grp.count; ++i) {
      const int64_t e = grp.first + i * grp.step;
      store_elem(fake_out, xt, e, family_value(fam, family_code(fam, load_elem(x, xt, e), p, f.bits), p, f.bits));
    }
    return;
  }
  store_scale(scales, f.scale_dtype, g, p.scale);
  if (fam == QuantFamily::kAsym) store_scale(zeros, f.scale_dtype, g, p.zero);
  uint32_t* words = codes + g * l.words;
  for (int64_t w = 0; w < l.words; ++w) words[w] = 0;
  for (int64_t i = 0; i < grp.count; ++i) {
    const uint32_t q = family_code(fam, load_elem(x, xt, grp.first + i * grp.step), p, f.bits);
    if (fam == QuantFamily::kTernary) {
      put_trit(words, i, q);
    } else {
      put_bits(words, i, q, f.bits);
    }
  }
}

__global__ void values_kernel(QuantFormat f, PackedLayout l, const uint32_t* codes,
                              const void* scales, const void* zeros, void* out, ElemType ot) {
  const int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= l.elements()) return;
  const int64_t d = e % l.channels, t = (e / l.channels) % l.tokens, n = e / (l.channels * l.tokens);
  int64_t g, i;
  if (f.axis == QuantAxis::kPerChannel) {
    g = (n * l.rows + t / l.group) * l.cols + d;
    i = t % l.group;
  } else {
    g = (n * l.rows + t) * l.cols + d / l.group;
    i = d % l.group;
  }
  const QuantFamily fam = quant_family(f);
  GroupParams p{load_scale(scales, f.scale_dtype, g), 0.0f, 0.0f};
  if (fam == QuantFamily::kAsym) p.zero = load_scale(zeros, f.scale_dtype, g);
  const uint32_t* words = codes + g * l.words;
  const uint32_t q = fam == QuantFamily::kTernary ? get_trit(words, i) : get_bits(words, i, f.bits);
  store_elem(out, ot, e, family_value(fam, q, p, f.bits));
}

// ---- fp8 ------------------------------------------------------------------------------------------
// Workspace per scale: [0] max|x| as float bits, [1] non-finite flag, [2] the stored scale.

__global__ void fp8_amax_kernel(QuantFormat f, PackedLayout l, const void* x, ElemType xt,
                                uint32_t* ws) {
  __shared__ float s_amax[kThreads];
  __shared__ int s_bad[kThreads];
  const int64_t slice = l.tokens * l.channels, n = blockIdx.y;
  const int64_t si = f.fp8_scope == Fp8Scope::kPerHead ? n : 0;
  float amax = 0.0f;
  int bad = 0;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < slice;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float v = load_elem(x, xt, n * slice + e);
    const float a = v < 0.0f ? -v : v;
    amax = a > amax ? a : amax;
    bad |= is_finite(v) ? 0 : 1;
  }
  s_amax[threadIdx.x] = amax;
  s_bad[threadIdx.x] = bad;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) {
      const float o = s_amax[threadIdx.x + s];
      s_amax[threadIdx.x] = o > s_amax[threadIdx.x] ? o : s_amax[threadIdx.x];
      s_bad[threadIdx.x] |= s_bad[threadIdx.x + s];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    atomicMax(ws + 3 * si, float_bits(s_amax[0]));  // non-negative floats order as their bits
    if (s_bad[0]) atomicOr(ws + 3 * si + 1, 1u);
  }
}

__global__ void fp8_params_kernel(QuantFormat f, int64_t nscales, uint32_t* ws, void* scales,
                                  unsigned long long* bad) {
  const int64_t si = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (si >= nscales) return;
  const float probe = ws[3 * si + 1] ? bits_float(kNanBits) : 0.0f;
  const GroupParams p = Fp8::params(bits_float(ws[3 * si]), probe, f.scale_dtype);
  ws[3 * si + 2] = float_bits(p.scale);
  if (scales) store_scale(scales, f.scale_dtype, si, p.scale);
  if (!is_finite(p.scale)) atomicAdd(bad, 1ull);
}

// One thread per code word (4 channels of one token), or per element when fake-quantizing.
__global__ void fp8_encode_kernel(QuantFormat f, PackedLayout l, const void* x, ElemType xt,
                                  const uint32_t* ws, uint32_t* codes, void* fake_out) {
  const int64_t j = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const bool per_head = f.fp8_scope == Fp8Scope::kPerHead;
  if (fake_out) {
    if (j >= l.elements()) return;
    const int64_t n = j / (l.tokens * l.channels);
    const GroupParams p{bits_float(ws[3 * (per_head ? n : 0) + 2]), 0.0f, 0.0f};
    const GroupParams pi{p.scale, 0.0f, safe_inverse(p.scale)};
    store_elem(fake_out, xt, j, Fp8::value(Fp8::code(load_elem(x, xt, j), pi), p));
    return;
  }
  if (j >= l.lead * l.tokens * l.words) return;
  const int64_t w = j % l.words, row = j / l.words, n = row / l.tokens;
  const float s = bits_float(ws[3 * (per_head ? n : 0) + 2]);
  const GroupParams p{s, 0.0f, safe_inverse(s)};
  uint32_t word = 0;
  for (int64_t k = 0; k < 4 && 4 * w + k < l.channels; ++k)
    word |= Fp8::code(load_elem(x, xt, row * l.channels + 4 * w + k), p) << (8 * k);
  codes[j] = word;
}

__global__ void fp8_values_kernel(QuantFormat f, PackedLayout l, const uint32_t* codes,
                                  const void* scales, void* out, ElemType ot) {
  const int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= l.elements()) return;
  const int64_t d = e % l.channels, row = e / l.channels, n = row / l.tokens;
  const GroupParams p{load_scale(scales, f.scale_dtype, f.fp8_scope == Fp8Scope::kPerHead ? n : 0),
                      0.0f, 0.0f};
  const uint32_t c = (codes[row * l.words + d / 4] >> (8 * (d % 4))) & 0xFFu;
  store_elem(out, ot, e, Fp8::value(c, p));
}

void fp8_quantize(const QuantFormat& f, const PackedLayout& l, const void* x, ElemType xt,
                  uint32_t* codes, void* scales, void* fake_out, void* workspace,
                  unsigned long long* bad, cudaStream_t stream) {
  const int64_t nscales = f.fp8_scope == Fp8Scope::kPerHead ? l.lead : 1;
  uint32_t* ws = static_cast<uint32_t*>(workspace);
  CUDA_CHECK(cudaMemsetAsync(ws, 0, static_cast<size_t>(nscales) * 3 * sizeof(uint32_t), stream));
  const int64_t slice = l.tokens * l.channels;
  if (l.lead > 0 && slice > 0) {
    const dim3 grid(static_cast<unsigned>(blocks_for(slice) < 64 ? blocks_for(slice) : 64),
                    static_cast<unsigned>(l.lead));
    fp8_amax_kernel<<<grid, kThreads, 0, stream>>>(f, l, x, xt, ws);
    CUDA_CHECK_LAUNCH();
  }
  fp8_params_kernel<<<blocks_for(nscales), kThreads, 0, stream>>>(f, nscales, ws, scales, bad);
  CUDA_CHECK_LAUNCH();
  const int64_t n = fake_out ? l.elements() : l.lead * l.tokens * l.words;
  if (n == 0) return;
  fp8_encode_kernel<<<blocks_for(n), kThreads, 0, stream>>>(f, l, x, xt, ws, codes, fake_out);
  CUDA_CHECK_LAUNCH();
}

void quantize_any(const QuantFormat& f, const PackedLayout& l, const void* x, ElemType xt,
                  uint32_t* codes, void* scales, void* zeros, void* fake_out, void* workspace,
                  int64_t* bad_groups, void* stream) {
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  auto* bad = reinterpret_cast<unsigned long long*>(bad_groups);
  CUDA_CHECK(cudaMemsetAsync(bad, 0, sizeof(unsigned long long), s));
  if (f.kind == QuantKind::kFp8E4M3) return fp8_quantize(f, l, x, xt, codes, scales, fake_out, workspace, bad, s);
  if (l.groups() == 0) return;
  groups_kernel<<<blocks_for(l.groups()), kThreads, 0, s>>>(f, l, x, xt, codes, scales, zeros,
                                                           fake_out, bad);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

int64_t quantize_workspace_bytes(const QuantFormat& f, const PackedLayout& l) {
  if (f.kind != QuantKind::kFp8E4M3) return 0;
  return (f.fp8_scope == Fp8Scope::kPerHead ? l.lead : 1) * 3 * static_cast<int64_t>(sizeof(uint32_t));
}

void quantize_pack_cuda(const QuantFormat& f, const PackedLayout& l, const void* x, ElemType xt,
                        uint32_t* codes, void* scales, void* zeros, void* workspace,
                        int64_t* bad_groups, void* stream) {
  quantize_any(f, l, x, xt, codes, scales, zeros, nullptr, workspace, bad_groups, stream);
}

void fake_quant_cuda(const QuantFormat& f, const PackedLayout& l, const void* x, ElemType xt,
                     void* out, void* workspace, int64_t* bad_groups, void* stream) {
  quantize_any(f, l, x, xt, nullptr, nullptr, nullptr, out, workspace, bad_groups, stream);
}

void unpack_dequantize_cuda(const QuantFormat& f, const PackedLayout& l, const uint32_t* codes,
                            const void* scales, const void* zeros, void* out, ElemType ot,
                            void* stream) {
  if (l.elements() == 0) return;
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  if (f.kind == QuantKind::kFp8E4M3) {
    fp8_values_kernel<<<blocks_for(l.elements()), kThreads, 0, s>>>(f, l, codes, scales, out, ot);
  } else {
    values_kernel<<<blocks_for(l.elements()), kThreads, 0, s>>>(f, l, codes, scales, zeros, out, ot);
  }
  CUDA_CHECK_LAUNCH();
}

}  // namespace kvmix
