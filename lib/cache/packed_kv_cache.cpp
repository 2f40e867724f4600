#include "lib/cache/packed_kv_cache.h"

#include <ATen/ATen.h>

#include "lib/dense_attention.h"
#include "base/error.h"
#include "lib/cache/fake_quant_kv_cache.h"
#include "lib/kv_quant_rules.h"

namespace kvmix {
namespace {

// The fused decode kernel reads per-channel uniform keys and per-token uniform values.
bool fused_supported(const QuantFormat& k, const QuantFormat& v) {
  return k.kind == QuantKind::kUniform && k.axis == QuantAxis::kPerChannel &&
         v.kind == QuantKind::kUniform && v.axis == QuantAxis::kPerToken;
}

}  // namespace

PackedKvCache::PackedKvCache(const KvShape& shape, std::vector<LayerKvFormat> formats)
    : KvCache(shape), formats_(std::move(formats)), layers_(static_cast<size_t>(shape.layers)) {
  KVMIX_CHECK(static_cast<int64_t>(formats_.size()) == shape.layers,
              "KV config has {} layers, the model {}", formats_.size(), shape.layers);
  for (size_t l = 0; l < layers_.size(); ++l) {
    for (const QuantFormat* f : {&formats_[l].k, &formats_[l].v})
      KVMIX_CHECK(f->kind != QuantKind::kFp8E4M3,
                  "layer {}: the packed cache stores uniform and ternary codes; fp8 ({}) needs a "
                  "scale per flushed block and is evaluated with the fake-quant cache",
                  l, format_name(*f));
    layers_[l].k.format = formats_[l].k;
    layers_[l].v.format = formats_[l].v;
  }
}

PackedTensor PackedKvCache::Side::packed() const {
  PackedTensor p;
  if (quantized == 0) return p;
  // The stores grow along the token axis inside a larger buffer, so their views are strided; the
  // kernels take contiguous operands. Codes and scales are a fraction of the fp32 cache's bytes.
  p.codes = codes.view().contiguous();
  p.scales = scales.view().contiguous();
  if (zeros.defined() && zeros.size() > 0) p.zeros = zeros.view().contiguous();
  p.tokens = quantized;
  p.channels = residual.size(3);
  return p;
}

at::Tensor PackedKvCache::Side::dequantized(at::ScalarType dtype) const {
  auto r = residual;
  if (quantized == 0)
    return at::empty({r.size(0), r.size(1), 0, r.size(3)}, r.options().dtype(dtype));
  return unpack_dequantize(packed(), format, dtype);
}

void PackedKvCache::flush(Side& s, const at::Tensor& valid, int64_t slots) {
  const int64_t upto = quantized_slots(s.format, slots);
  if (upto <= s.quantized) return;
  const int64_t n = upto - s.quantized;
  auto block = s.residual.narrow(2, 0, n);
  auto filled = fill_padding_for_grouping(block, valid.narrow(1, s.quantized, n), s.format);
  PackedTensor p = quantize_pack(filled.contiguous(), s.format);
  s.codes.append(p.codes);
  s.scales.append(p.scales);
  if (p.zeros.defined()) s.zeros.append(p.zeros);
  s.quantized = upto;
  s.residual = s.residual.narrow(2, n, s.residual.size(2) - n).contiguous();
}

at::Tensor PackedKvCache::attend(int64_t layer, const at::Tensor& q, const at::Tensor& k,
                                 const at::Tensor& v) {
  Layer& L = layers_.at(static_cast<size_t>(layer));
  L.k.residual = L.k.residual.defined() ? at::cat({L.k.residual, k}, 2) : k.contiguous();
  L.v.residual = L.v.residual.defined() ? at::cat({L.v.residual, v}, 2) : v.contiguous();
  L.valid.append(step_valid());
  const auto valid = L.valid.view();
  const int64_t slots = L.valid.size();

  at::Tensor out;
  // The fused kernel reads packed codes; until both sides have flushed a first block (a short
  // prompt under KIVI's residual window) there are none, and the plain path is exact.
  if (q.size(2) == 1 && !observer() && fused_supported(L.k.format, L.v.format) && L.k.quantized > 0 &&
      L.v.quantized > 0) {
    out = decode_attention(q.squeeze(2), L.k.packed(), L.k.format, L.k.residual, L.v.packed(),
                           L.v.format, L.v.residual, valid.contiguous())
              .unsqueeze(2);
  } else {
    auto keys = at::cat({L.k.dequantized(k.scalar_type()), L.k.residual}, 2);
    auto values = at::cat({L.v.dequantized(v.scalar_type()), L.v.residual}, 2);
    at::Tensor probs;
    out = dense_attention(q, keys, values, valid, observer() ? &probs : nullptr);
    if (observer()) observer()->on_attention({layer, q, k, v, keys, values, valid, probs, out});
  }
  flush(L.k, valid, slots);
  flush(L.v, valid, slots);
  return out;
}

int64_t PackedKvCache::true_bytes() const {
  return layered_true_bytes(shape(), formats_, tokens_seen());
}

int64_t PackedKvCache::buffer_bytes() const {
  int64_t total = 0;
  for (const auto& L : layers_)
    for (const Side* s : {&L.k, &L.v}) {
      total += s->codes.live_bytes() + s->scales.live_bytes() + s->zeros.live_bytes();
      if (s->residual.defined())
        total += s->residual.numel() * static_cast<int64_t>(shape().model_dtype_bytes);
    }
  return total;
}

std::string PackedKvCache::describe() const {
  return "packed, layer 0: K " + format_name(formats_.front().k) + " V " +
         format_name(formats_.front().v);
}

}  // namespace kvmix
