#include "models/llama_forward.h"

#include <ATen/ATen.h>

#include "lib/attention.h"
#include "lib/error.h"
#include "models/rope.h"

namespace kvmix {

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& gain, double eps) {
  auto xf = x.to(at::kFloat);
  auto normed = xf * at::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return gain * normed.to(x.scalar_type());
}

KvShape kv_shape(const ModelConfig& c, int model_dtype_bytes) {
  KvShape s;
  s.layers = c.num_layers;
  s.kv_heads = c.num_kv_heads;
  s.q_heads = c.num_heads;
  s.head_dim = c.head_dim;
  s.model_dtype_bytes = model_dtype_bytes;
  return s;
}

namespace {

at::Tensor linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  return b.defined() ? at::linear(x, w, b) : at::linear(x, w);
}

// [B, T, H*D] -> [B, H, T, D]
at::Tensor split_heads(const at::Tensor& x, int64_t heads, int64_t dim) {
  return x.view({x.size(0), x.size(1), heads, dim}).transpose(1, 2);
}

}  // namespace

at::Tensor forward(const Model& m, const at::Tensor& tokens, const at::Tensor& valid_in,
                   KvCache* cache, const ForwardOptions& opt) {
  const ModelConfig& c = m.config;
  const ModelWeights& w = m.weights;
  KVMIX_CHECK(tokens.dim() == 2, "forward: tokens must be [batch, time], got {} dims", tokens.dim());
  const int64_t B = tokens.size(0), T = tokens.size(1);
  auto valid = valid_in.defined() ? valid_in
                                  : at::ones({B, T}, tokens.options().dtype(at::kBool));

  at::Tensor positions;
  if (cache) {
    positions = cache->begin_step(valid);
  } else {
    positions = (at::cumsum(valid.to(at::kLong), 1) - 1).clamp_min(0);
  }
  if (c.sliding_window > 0)
    KVMIX_CHECK(positions.max().item<int64_t>() < c.sliding_window,
                "context longer than the model's sliding window ({} tokens) is not supported",
                c.sliding_window);
  auto [cos, sin] = rope_tables(rope_inv_freq(c), positions);

  auto x = at::embedding(w.embed, tokens);  // [B, T, hidden]
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const LayerWeights& L = w.layers[static_cast<size_t>(l)];
    auto h = rms_norm(x, L.input_norm, c.rms_norm_eps);
    auto q = apply_rope(split_heads(linear(h, L.wq, L.bq), c.num_heads, c.head_dim), cos, sin);
    auto k = apply_rope(split_heads(linear(h, L.wk, L.bk), c.num_kv_heads, c.head_dim), cos, sin);
    auto v = split_heads(linear(h, L.wv, L.bv), c.num_kv_heads, c.head_dim);
    auto attn = cache ? cache->attend(l, q, k, v) : dense_attention(q, k, v, valid_in);
    attn = attn.transpose(1, 2).reshape({B, T, c.num_heads * c.head_dim});
    x = x + at::linear(attn, L.wo);
    auto h2 = rms_norm(x, L.post_norm, c.rms_norm_eps);
    x = x + at::linear(at::silu(at::linear(h2, L.w_gate)) * at::linear(h2, L.w_up), L.w_down);
  }
  if (opt.last_logits_only) x = x.narrow(1, T - 1, 1);
  x = rms_norm(x, w.final_norm, c.rms_norm_eps);
  return at::linear(x, w.lm_head).to(at::kFloat);
}

}  // namespace kvmix
