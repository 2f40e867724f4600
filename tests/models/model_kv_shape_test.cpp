// The KV shape of a model's config: what its caches, configs, profiles and fronts carry.
#include "models/model_kv_shape.h"

#include <catch2/catch.hpp>

#include "tests/models/random_model.h"

using namespace kvmix;

TEST_CASE("kv_shape of a model config carries its sizes, type and hash", "[models][kv_shape]") {
  const ModelConfig c = test::tiny_config();
  const KvShape s = kv_shape(c);
  CHECK(s.architecture == c.model_type);
  CHECK(s.layers == c.num_layers);
  CHECK(s.q_heads == c.num_heads);
  CHECK(s.kv_heads == c.num_kv_heads);
  CHECK(s.head_dim == c.head_dim);
  CHECK(s.model_dtype_bytes == 2);
  CHECK(s.config_hash == model_config_hash(c));
  CHECK(kv_shape(c, 4).model_dtype_bytes == 4);
  CHECK_NOTHROW(kv_shape_check(s, "tiny"));
}
