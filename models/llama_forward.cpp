#include "models/llama_forward.h"

#include <ATen/ATen.h>

#include "lib/dense_attention.h"
#include "base/error.h"
#include "models/rope.h"

namespace kvmix {

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& gain, double eps) {
  auto xf = x.to(at::kFloat);
  auto normed = xf * at::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return gain * normed.to(x.scalar_type());
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

StepRope step_rope(const ModelConfig& c, const at::Tensor& positions) {
  if (c.sliding_window > 0)
    KVMIX_CHECK(positions.numel() == 0 || positions.max().item<int64_t>() < c.sliding_window,
                "context longer than the model's sliding window ({} tokens) is not supported",
                c.sliding_window);
  auto [cos, sin] = rope_tables(rope_inv_freq(c), positions);
  return {cos, sin};
}

at::Tensor embed_tokens(const Model& m, const at::Tensor& tokens) {
  return at::embedding(m.weights.embed, tokens.to(m.weights.embed.device()));
}

at::Tensor run_layers(const Model& m, at::Tensor x, int64_t first, int64_t last, const StepRope& rope,
                      const at::Tensor& valid, KvCache* cache) {
  const ModelConfig& c = m.config;
  const int64_t B = x.size(0), T = x.size(1);
  for (int64_t l = first; l < last; ++l) {
    const LayerWeights& L = m.weights.layers[static_cast<size_t>(l)];
    auto h = rms_norm(x, L.input_norm, c.rms_norm_eps);
    auto q = apply_rope(split_heads(linear(h, L.wq, L.bq), c.num_heads, c.head_dim), rope.cos, rope.sin);
    auto k = apply_rope(split_heads(linear(h, L.wk, L.bk), c.num_kv_heads, c.head_dim), rope.cos, rope.sin);
    auto v = split_heads(linear(h, L.wv, L.bv), c.num_kv_heads, c.head_dim);
    auto attn = cache ? cache->attend(l, q, k, v) : dense_attention(q, k, v, valid);
    attn = attn.transpose(1, 2).reshape({B, T, c.num_heads * c.head_dim});
    x = x + at::linear(attn, L.wo);
    auto h2 = rms_norm(x, L.post_norm, c.rms_norm_eps);
    x = x + at::linear(at::silu(at::linear(h2, L.w_gate)) * at::linear(h2, L.w_up), L.w_down);
  }
  return x;
}

at::Tensor output_logits(const Model& m, at::Tensor x, bool last_only) {
  if (last_only) x = x.narrow(1, x.size(1) - 1, 1);
  x = rms_norm(x, m.weights.final_norm, m.config.rms_norm_eps);
  return at::linear(x, m.weights.lm_head).to(at::kFloat);
}

at::Tensor forward(const Model& m, const at::Tensor& tokens, const at::Tensor& valid_in,
                   KvCache* cache, const ForwardOptions& opt) {
  KVMIX_CHECK(tokens.dim() == 2, "forward: tokens must be [batch, time], got {} dims", tokens.dim());
  const int64_t B = tokens.size(0), T = tokens.size(1);
  // Callers build token batches on the host; everything from here on lives on the model's device.
  const at::Device device = model_device(m);
  const at::Tensor ids = tokens.to(device);
  const at::Tensor given_valid = valid_in.defined() ? valid_in.to(device) : at::Tensor();
  auto valid =
      given_valid.defined() ? given_valid : at::ones({B, T}, ids.options().dtype(at::kBool));
  const at::Tensor positions = cache ? cache->begin_step(valid)
                                     : (at::cumsum(valid.to(at::kLong), 1) - 1).clamp_min(0);
  const StepRope rope = step_rope(m.config, positions);
  auto x = run_layers(m, embed_tokens(m, ids), 0, m.config.num_layers, rope, given_valid, cache);
  return output_logits(m, x, opt.last_logits_only);
}

}  // namespace kvmix
