// The scalar reference of quantize+pack and unpack+dequantize for every format: plain loops over
// groups, then over a group's elements in order, calling the per-element math of
// kernels/quant_math.h. It is the oracle the CPU and CUDA versions are tested against (ggml's
// quantize_row_*_ref), so it favours the obvious over the fast.
#include <vector>

#include "kernels/quant_kernels.h"
#include "kernels/quant_math.h"

namespace kvmix {

using namespace qmath;

namespace {

// Element i of group (n, r, c) as a flat index into x [N, T, D].
struct GroupIndex {
  const PackedLayout& l;
  bool per_channel;

  int64_t count(int64_t r) const {  // elements present (the last token group may be partial)
    if (!per_channel) return l.group;
    const int64_t left = l.tokens - r * l.group;
    return left < l.group ? left : l.group;
  }
  int64_t element(int64_t n, int64_t r, int64_t c, int64_t i) const {
    if (per_channel) return (n * l.tokens + r * l.group + i) * l.channels + c;
    return (n * l.tokens + r) * l.channels + c * l.group + i;
  }
};

// fp8: one scale per head (slice n) or per tensor, 4 codes per word along channels.
int64_t fp8_quantize_ref(const QuantFormat& f, const PackedLayout& l, const void* x, ElemType xt,
                         uint32_t* codes, void* scales) {
  const bool per_head = f.fp8_scope == Fp8Scope::kPerHead;
  const int64_t slice = l.tokens * l.channels;
  const int64_t nscales = per_head ? l.lead : 1;
  int64_t bad = 0;
  for (int64_t si = 0; si < nscales; ++si) {
    const int64_t n0 = per_head ? si : 0, n1 = per_head ? si + 1 : l.lead;
    GroupStats st = stats_init();
    for (int64_t i = n0 * slice; i < n1 * slice; ++i) stats_add(st, load_elem(x, xt, i));
    const GroupParams p = Fp8::params(st.amax, st.probe, f.scale_dtype);
    store_scale(scales, f.scale_dtype, si, p.scale);
    bad += is_finite(p.scale) ? 0 : 1;
    for (int64_t n = n0; n < n1; ++n) {
      for (int64_t t = 0; t < l.tokens; ++t) {
        uint32_t* row = codes + (n * l.tokens + t) * l.words;
        for (int64_t w = 0; w < l.words; ++w) row[w] = 0;
        for (int64_t d = 0; d < l.channels; ++d) {
          const uint32_t c = Fp8::code(load_elem(x, xt, (n * l.tokens + t) * l.channels + d), p);
          row[d / 4] |= c << (8 * (d % 4));
        }
      }
    }
  }
  return bad;
}

void fp8_dequantize_ref(const QuantFormat& f, const PackedLayout& l, const uint32_t* codes,
                        const void* scales, void* out, ElemType ot) {
  const bool per_head = f.fp8_scope == Fp8Scope::kPerHead;
  for (int64_t n = 0; n < l.lead; ++n) {
    const GroupParams p{load_scale(scales, f.scale_dtype, per_head ? n : 0), 0.0f, 0.0f};
    for (int64_t t = 0; t < l.tokens; ++t) {
      const uint32_t* row = codes + (n * l.tokens + t) * l.words;
      for (int64_t d = 0; d < l.channels; ++d) {
        const uint32_t c = (row[d / 4] >> (8 * (d % 4))) & 0xFFu;
        store_elem(out, ot, (n * l.tokens + t) * l.channels + d, Fp8::value(c, p));
      }
    }
  }
}

}  // namespace

int64_t quantize_pack_ref(const QuantFormat& f, const PackedLayout& l, const void* x, ElemType xt,
                          uint32_t* codes, void* scales, void* zeros) {
  const QuantFamily fam = quant_family(f);
  if (fam == QuantFamily::kFp8) return fp8_quantize_ref(f, l, x, xt, codes, scales);
  const GroupIndex gi{l, f.axis == QuantAxis::kPerChannel};
  int64_t bad = 0;
  for (int64_t n = 0; n < l.lead; ++n) {
    for (int64_t r = 0; r < l.rows; ++r) {
      for (int64_t c = 0; c < l.cols; ++c) {
        const int64_t g = (n * l.rows + r) * l.cols + c;
        const int64_t count = gi.count(r);
        GroupStats st = stats_init();
        for (int64_t i = 0; i < count; ++i) stats_add(st, load_elem(x, xt, gi.element(n, r, c, i)));
        const GroupParams p = family_params(fam, st, static_cast<int>(count), f.bits, f.scale_dtype);
        store_scale(scales, f.scale_dtype, g, p.scale);
        if (fam == QuantFamily::kAsym) store_scale(zeros, f.scale_dtype, g, p.zero);
        bad += (is_finite(p.scale) && is_finite(p.zero)) ? 0 : 1;

        uint32_t* words = codes + g * l.words;
        for (int64_t w = 0; w < l.words; ++w) words[w] = 0;
        for (int64_t i = 0; i < count; ++i) {
          const uint32_t q = family_code(fam, load_elem(x, xt, gi.element(n, r, c, i)), p, f.bits);
          if (fam == QuantFamily::kTernary) {
            put_trit(words, i, q);
          } else {
            put_bits(words, i, q, f.bits);
          }
        }
      }
    }
  }
  return bad;
}

void unpack_dequantize_ref(const QuantFormat& f, const PackedLayout& l, const uint32_t* codes,
                           const void* scales, const void* zeros, void* out, ElemType ot) {
  const QuantFamily fam = quant_family(f);
  if (fam == QuantFamily::kFp8) return fp8_dequantize_ref(f, l, codes, scales, out, ot);
  const GroupIndex gi{l, f.axis == QuantAxis::kPerChannel};
  for (int64_t n = 0; n < l.lead; ++n) {
    for (int64_t r = 0; r < l.rows; ++r) {
      for (int64_t c = 0; c < l.cols; ++c) {
        const int64_t g = (n * l.rows + r) * l.cols + c;
        GroupParams p{load_scale(scales, f.scale_dtype, g), 0.0f, 0.0f};
        if (fam == QuantFamily::kAsym) p.zero = load_scale(zeros, f.scale_dtype, g);
        const uint32_t* words = codes + g * l.words;
        for (int64_t i = 0; i < gi.count(r); ++i) {
          const uint32_t q =
              fam == QuantFamily::kTernary ? get_trit(words, i) : get_bits(words, i, f.bits);
          store_elem(out, ot, gi.element(n, r, c, i), family_value(fam, q, p, f.bits));
        }
      }
    }
  }
}

int64_t fake_quant_ref(const QuantFormat& f, const PackedLayout& l, const void* x, ElemType xt,
                       void* out) {
  std::vector<uint32_t> codes(static_cast<size_t>(l.code_words()));
  const size_t nscales = static_cast<size_t>(scale_count(f, l));
  std::vector<float> scales(nscales), zeros(nscales);  // large enough for fp16 or fp32 scales
  const int64_t bad = quantize_pack_ref(f, l, x, xt, codes.data(), scales.data(), zeros.data());
  unpack_dequantize_ref(f, l, codes.data(), scales.data(), zeros.data(), out, xt);
  return bad;
}

}  // namespace kvmix
