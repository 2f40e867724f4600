#include "models/model_weights.h"

#include <spdlog/fmt/fmt.h>

namespace kvmix {

std::vector<TensorSlot> tensor_slots(ModelWeights& w, const ModelConfig& c) {
  const int64_t h = c.hidden_size, q = c.num_heads * c.head_dim, kv = c.num_kv_heads * c.head_dim,
                ff = c.intermediate_size;
  std::vector<TensorSlot> s;
  s.push_back({"model.embed_tokens.weight", {c.vocab_size, h}, &w.embed, false});
  for (int64_t i = 0; i < c.num_layers; ++i) {
    auto& L = w.layers.at(static_cast<size_t>(i));
    const std::string p = fmt::format("model.layers.{}.", i);
    s.push_back({p + "input_layernorm.weight", {h}, &L.input_norm, true});
    s.push_back({p + "self_attn.q_proj.weight", {q, h}, &L.wq, false});
    s.push_back({p + "self_attn.k_proj.weight", {kv, h}, &L.wk, false});
    s.push_back({p + "self_attn.v_proj.weight", {kv, h}, &L.wv, false});
    if (c.attention_bias) {
      s.push_back({p + "self_attn.q_proj.bias", {q}, &L.bq, false});
      s.push_back({p + "self_attn.k_proj.bias", {kv}, &L.bk, false});
      s.push_back({p + "self_attn.v_proj.bias", {kv}, &L.bv, false});
    }
    s.push_back({p + "self_attn.o_proj.weight", {h, q}, &L.wo, false});
    s.push_back({p + "post_attention_layernorm.weight", {h}, &L.post_norm, true});
    s.push_back({p + "mlp.gate_proj.weight", {ff, h}, &L.w_gate, false});
    s.push_back({p + "mlp.up_proj.weight", {ff, h}, &L.w_up, false});
    s.push_back({p + "mlp.down_proj.weight", {h, ff}, &L.w_down, false});
  }
  s.push_back({"model.norm.weight", {h}, &w.final_norm, true});
  if (!c.tie_word_embeddings) s.push_back({"lm_head.weight", {c.vocab_size, h}, &w.lm_head, false});
  return s;
}

}  // namespace kvmix
