// `kvmix import-kvtuner`: reads one of KVTuner's per-layer presets into a kvmix config for a
// model's config.json, and prints its nominal bits (KVTuner's mean of (K + V)/2) beside its true
// bits and bytes per token (codes, scales, zero-points and the residual window).
#include <spdlog/spdlog.h>

#include <cstdio>
#include <optional>

#include "apps/kvmix/command.h"
#include "apps/kvmix/option_checks.h"
#include "base/error.h"
#include "lib/export/kvtuner_yaml.h"
#include "lib/kv_config.h"
#include "models/model_kv_shape.h"
#include "models/model_config.h"

namespace kvmix::app {
namespace {

struct ImportOptions {
  std::string preset;        // KVTuner YAML
  std::string model_config;  // the model's config.json
  std::string scheme;        // empty: from the preset's file name
  std::string out;           // kvmix config to write; empty: print only
  int64_t tokens = 4096;     // context at which bytes per token are reported
};

int run_import_command(const ImportOptions& o) {
  if (!o.out.empty()) refuse_output_over_inputs(o.out, "--out", {o.preset, o.model_config});
  const ModelConfig mc = load_model_config(o.model_config);
  std::optional<Scheme> scheme;
  if (!o.scheme.empty()) scheme = parse_scheme(o.scheme);
  KvConfig c = load_kvtuner_preset(o.preset, scheme, kv_shape(mc), o.tokens);
  c.provenance.model_path = o.model_config;

  const double nominal = nominal_bits(c);
  const double true_bits = true_bits_per_element(c, o.tokens);
  const double bytes = total_bytes_per_token(c, o.tokens);
  const double fp16_bytes = 2.0 * 2.0 * static_cast<double>(c.model.layers * c.model.kv_heads *
                                                            c.model.head_dim);
  std::printf("preset:  %s\n", c.provenance.calibration.c_str());
  std::printf("model:   %s, %lld layers, %lld kv heads, head_dim %lld\n",
              c.model.architecture.c_str(), static_cast<long long>(c.model.layers),
              static_cast<long long>(c.model.kv_heads), static_cast<long long>(c.model.head_dim));
  std::printf("nominal bits (KVTuner's mean (K+V)/2):   %.4g\n", nominal);
  std::printf("true bits per element at %lld tokens:     %.4f  (%.3fx nominal)\n",
              static_cast<long long>(o.tokens), true_bits, true_bits / nominal);
  std::printf("true bytes per token at %lld tokens:      %.1f  (fp16: %.0f, %.3fx)\n",
              static_cast<long long>(o.tokens), bytes, fp16_bytes, bytes / fp16_bytes);
  if (!o.out.empty()) {
    save_kv_config(c, o.out);
    spdlog::info("wrote {}", o.out);
  }
  return 0;
}

Command setup_import(CLI::App& parent) {
  auto o = std::make_shared<ImportOptions>();
  auto* sub = parent.add_subcommand(
      "import-kvtuner", "Import a KVTuner per-layer preset (YAML) and report its true bits");
  sub->add_option("preset", o->preset, "KVTuner preset {layer: {nbits_key, nbits_value}}")
      ->required()->check(CLI::ExistingFile);
  sub->add_option("--model-config", o->model_config, "The model's config.json")
      ->required()->check(CLI::ExistingFile);
  sub->add_option("--scheme", o->scheme,
                  "kivi or per-token (default: from the file name, as KVTuner names its presets)")
      ->check(parsed_by([](const std::string& s) { parse_scheme(s); }, "SCHEME"));
  sub->add_option("-o,--out", o->out, "Write the kvmix per-layer config here")->check(output_file());
  // lib/kv_config.schema.json's bound on the reference context.
  sub->add_option("--tokens", o->tokens, "Context length at which bytes per token are reported")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 24))->capture_default_str();
  return {sub, [o] { return run_import_command(*o); }};
}

}  // namespace
KVMIX_REGISTER_COMMAND(setup_import);
}  // namespace kvmix::app
