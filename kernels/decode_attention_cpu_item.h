#pragma once
// Internal to the CPU fused attention: the work item every instruction-set variant implements
// (kernels/decode_attention_cpu_body.h instantiated by decode_attention_cpu_avx512.cpp,
// decode_attention_cpu_avx2.cpp and decode_attention_cpu.cpp), and the per-thread scratch it uses.
#include <cstdint>
#include <vector>

#include "kernels/decode_attention.h"

namespace kvmix::attn {

struct ItemScratch {
  std::vector<float> q, qs, bias, a, b, score, ps, acc, s, z;
  static float* grow(std::vector<float>& v, int64_t n) {
    if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
    return v.data();
  }
};

// Tokens [t0, t1) of KV slice (b, kvh), for the query heads sharing it: writes per head
// st[h * (D + 2) + {0, 1, 2..}] = {block max m, sum of e^(s - m), sum of e^(s - m) * v}.
// Keys of tokens < k_fast_end and values of tokens < v_fast_end take the SIMD fast path.
using AttentionItemFn = void (*)(const DecodeAttentionArgs& a, int64_t b, int64_t kvh, int64_t t0,
                                 int64_t t1, int64_t k_fast_end, int64_t v_fast_end, float* st,
                                 ItemScratch& sc);

void attention_item_scalar(const DecodeAttentionArgs& a, int64_t b, int64_t kvh, int64_t t0,
                           int64_t t1, int64_t k_fast_end, int64_t v_fast_end, float* st,
                           ItemScratch& sc);
#if defined(__x86_64__)
void attention_item_avx2(const DecodeAttentionArgs& a, int64_t b, int64_t kvh, int64_t t0,
                         int64_t t1, int64_t k_fast_end, int64_t v_fast_end, float* st,
                         ItemScratch& sc);
void attention_item_avx512(const DecodeAttentionArgs& a, int64_t b, int64_t kvh, int64_t t0,
                           int64_t t1, int64_t k_fast_end, int64_t v_fast_end, float* st,
                           ItemScratch& sc);
#endif

// The instruction-set variants this CPU can run, fastest first, with their names.
struct ItemVariant {
  const char* name;
  AttentionItemFn fn;
};
std::vector<ItemVariant> available_item_variants();

// decode_attention_cpu with a chosen variant (the tests run every available one).
void decode_attention_cpu_using(const DecodeAttentionArgs& a, AttentionItemFn item);

// Fast paths need 16-code chunks inside a group: bits 1, 2, 4, 8 and G a multiple of 16.
inline bool fast_operand(const QuantFormat& f, int64_t group) {
  return f.kind == QuantKind::kUniform &&
         (f.bits == 1 || f.bits == 2 || f.bits == 4 || f.bits == 8) && group % 16 == 0;
}

}  // namespace kvmix::attn
