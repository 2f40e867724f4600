// libFuzzer target: kv_config_from_json on arbitrary JSON. A bad config must be refused with a
// kvmix::Error; a crash, a sanitizer report or another exception escaping is a bug. A config
// that loads must be usable: kv_config_to_json (which counts its true bytes) succeeds and parses
// back to the same layers and shape (the property save_kv_config / load_kv_config rely on).
// Crashes go to tests/fuzz/regressions/kv_config/.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "lib/kv_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kvmix;
  const nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr,
                                                 /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  KvConfig c;
  try {
    c = kv_config_from_json(j, "fuzz-input");
  } catch (const Error&) {
    return 0;
  }
  const KvConfig back = kv_config_from_json(kv_config_to_json(c), "round-trip");
  KVMIX_ASSERT(back.layers == c.layers, "layers changed through kv_config_to_json");
  KVMIX_ASSERT(back.model.layers == c.model.layers && back.model.kv_heads == c.model.kv_heads &&
                   back.model.head_dim == c.model.head_dim && back.model.q_heads == c.model.q_heads,
               "model shape changed through kv_config_to_json");
  KVMIX_ASSERT(back.reference_tokens == c.reference_tokens, "reference tokens changed");
  return 0;
}
