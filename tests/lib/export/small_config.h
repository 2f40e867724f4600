#pragma once
// A hand-written 4-layer config the converter tests lower: one layer of each kind a converter
// must handle (fp16, 8-bit keys with 4-bit values, 2-bit values, 8-bit both), on a small model
// (2 kv heads of head_dim 32) so the expected bytes can be derived by hand.
#include "lib/kv_config.h"

namespace kvmix::test {

inline KvShape small_shape() {
  KvShape m;
  m.architecture = "llama";
  m.layers = 4;
  m.q_heads = 4;
  m.kv_heads = 2;
  m.head_dim = 32;
  return m;
}

// Layers: 0 KV16, 1 K8V4, 2 K4V2, 3 KV8, all under `scheme`.
inline KvConfig small_config(Scheme scheme = Scheme::kKivi) {
  KvConfig c;
  c.model = small_shape();
  for (KvPair p : {KvPair{16, 16}, KvPair{8, 4}, KvPair{4, 2}, KvPair{8, 8}})
    c.layers.push_back({key_format(scheme, p.k_bits), value_format(scheme, p.v_bits)});
  c.reference_tokens = 4096;
  return c;
}

// One pair on every layer of the small model.
inline KvConfig uniform_config(Scheme scheme, KvPair p) {
  KvConfig c;
  c.model = small_shape();
  c.layers = uniform_layers(scheme, p, c.model.layers);
  return c;
}

}  // namespace kvmix::test
