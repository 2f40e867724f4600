#pragma once
// The tensors of a Llama-family decoder as a plain struct, with Hugging Face's names and layouts
// (a Linear weight is [out_features, in_features]). One visitor, for_each_tensor, drives loading,
// saving, initialization and reporting, so the list of tensors is written down once.
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "models/model_config.h"

namespace kvmix {

struct LayerWeights {
  at::Tensor input_norm;  // [hidden]
  at::Tensor wq;          // [heads * head_dim, hidden]
  at::Tensor wk;          // [kv_heads * head_dim, hidden]
  at::Tensor wv;          // [kv_heads * head_dim, hidden]
  at::Tensor wo;          // [hidden, heads * head_dim]
  at::Tensor bq, bk, bv;  // [out] biases (Qwen2), undefined otherwise
  at::Tensor post_norm;   // [hidden]
  at::Tensor w_gate;      // [intermediate, hidden]
  at::Tensor w_up;        // [intermediate, hidden]
  at::Tensor w_down;      // [hidden, intermediate]
};

struct ModelWeights {
  at::Tensor embed;       // [vocab, hidden]
  std::vector<LayerWeights> layers;
  at::Tensor final_norm;  // [hidden]
  at::Tensor lm_head;     // [vocab, hidden]; the same tensor as embed when tied
};

// One tensor slot of the model: its checkpoint name, its expected shape, and where it lives.
struct TensorSlot {
  std::string name;             // e.g. "model.layers.3.self_attn.q_proj.weight"
  std::vector<int64_t> shape;   // expected shape from the config
  at::Tensor* tensor;           // the field of ModelWeights
  bool is_norm;                 // RMSNorm gains (initialized to 1)
};

// Every tensor the config implies, in checkpoint order. When embeddings are tied, lm_head is not
// listed (it aliases embed). `w` must have config.num_layers layers (resize_layers does that).
std::vector<TensorSlot> tensor_slots(ModelWeights& w, const ModelConfig& c);

inline void resize_layers(ModelWeights& w, const ModelConfig& c) {
  w.layers.resize(static_cast<size_t>(c.num_layers));
}

// After loading or initialization: lm_head aliases embed when tied.
inline void tie_embeddings(ModelWeights& w, const ModelConfig& c) {
  if (c.tie_word_embeddings) w.lm_head = w.embed;
}

}  // namespace kvmix
