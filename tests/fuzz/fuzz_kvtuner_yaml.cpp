// libFuzzer target: import_kvtuner (a KVTuner calibration preset, YAML read by yaml-cpp) on
// arbitrary bytes. The first byte picks the scheme (bit 0: kivi or per-token) and the model
// shape the preset is imported for (bits 1-2, fuzz_kvtuner_shapes.h), the rest is the YAML text.
// A bad preset must be refused with a kvmix::Error; a crash, a sanitizer report or another
// exception escaping (yaml-cpp's own included) is a bug. A preset that imports must give one layer
// per model layer, and export_kvtuner of it must import back to the same formats. Crashes go to
// tests/fuzz/regressions/kvtuner_yaml/.
#include <cstddef>
#include <cstdint>
#include <string>

#include "base/error.h"
#include "lib/export/kvtuner_yaml.h"
#include "tests/fuzz/fuzz_kvtuner_shapes.h"
#include "tests/fuzz/fuzz_refused.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kvmix;
  if (size == 0) return 0;
  const Scheme scheme = fuzz::kvtuner_scheme(data[0]);
  const KvShape model = fuzz::kvtuner_shape(data[0]);
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  KvConfig c;
  try {
    c = import_kvtuner(text, "fuzz-input", scheme, model);
  } catch (const Error& e) {
    return fuzz::refused(e);
  }
  KVMIX_ASSERT(static_cast<int64_t>(c.layers.size()) == model.layers,
               "{} layers for a {}-layer model", c.layers.size(), model.layers);
  const ExportResult e = export_kvtuner(c);
  const KvConfig back = import_kvtuner(e.text, "round-trip", scheme, model);
  KVMIX_ASSERT(back.layers == c.layers, "formats changed through export_kvtuner");
  return 0;
}
