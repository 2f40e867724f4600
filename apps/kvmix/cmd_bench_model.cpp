// `kvmix bench model`: prefill and decode throughput and KV bytes of a model under the full,
// packed 4-bit and packed 2-bit caches (apps/bench/model_bench.h says what is measured).
#include <cstdio>

#include "apps/bench/model_bench.h"
#include "apps/kvmix/cmd_bench.h"
#include "apps/kvmix/model_options.h"
#include "apps/kvmix/option_checks.h"
#include "base/error.h"
#include "lib/io/atomic_file.h"

namespace kvmix::app {
namespace {

struct BenchModelOptions {
  ModelOptions model;             // which model, compute dtype, threads
  bench::ModelBenchOptions bench;  // contexts, decode tokens, batch, repeats, seed; defaults in model_bench.h
  std::string json;               // also write the JSON (schema kvmix.bench.model) here
};

int run_bench_model(const BenchModelOptions& o) {
  // `--contexts ,` gets past CLI11 as an empty list.
  if (o.bench.contexts.empty()) throw UsageError("--contexts: the list is empty");
  const LoadedRuntime rt = load_runtime(o.model);
  bench::ModelBenchReport r = bench::run_model_bench(rt.model, o.bench);
  r.model = o.model.model;  // as the user named it: the loader's absolute folder would tie the
                            // recorded results to one machine
  // One run gives both files, so the Markdown and the JSON always hold the same figures.
  if (!o.json.empty()) write_file_atomic(o.json, bench::model_bench_json(r));
  std::fputs(bench::model_bench_markdown(r).c_str(), stdout);
  return 0;
}

Command setup_bench_model(CLI::App& parent) {
  auto o = std::make_shared<BenchModelOptions>();
  auto* sub = parent.add_subcommand(
      "model", "Prefill/decode tokens/s and KV bytes of a model: packed 4- and 2-bit caches vs full precision");
  add_model_options(sub, o->model);
  sub->add_option("--contexts", o->bench.contexts, "Prompt lengths in tokens (past the model's trained "
                  "length: run and flagged)")
      ->delimiter(',')->check(non_empty())->check(CLI::PositiveNumber)->capture_default_str();
  sub->add_option("--decode-tokens", o->bench.decode_tokens, "Single-token decode steps after each prompt")
      ->check(CLI::PositiveNumber)->capture_default_str();
  sub->add_option("--batch", o->bench.batch, "Sequences per forward")
      ->check(CLI::PositiveNumber)->capture_default_str();
  sub->add_option("--repeats", o->bench.repeats, "Timed runs per figure, after one warm-up (the median is reported)")
      ->check(CLI::PositiveNumber)->capture_default_str();
  sub->add_option("--seed", o->bench.seed, "Seed of the prompt and decode token ids")->capture_default_str();
  sub->add_option("--json", o->json, "Also write the figures as JSON (schema kvmix.bench.model) to this file")
      ->check(output_file());
  return {sub, [o] { return run_bench_model(*o); }};
}

}  // namespace
KVMIX_REGISTER_BENCH(setup_bench_model);
}  // namespace kvmix::app
