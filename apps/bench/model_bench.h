#pragma once
// The model benchmark behind `kvmix bench model`: what the packed cache costs or saves on a whole
// model, against the full-precision cache measured in the same run (ratios, never absolute
// times held to a bound: DESIGN.md, "Benchmarks"). For each context length T and each cache
//   - full precision (the baseline),
//   - packed K4V4 and K2V2 under KIVI (arXiv 2402.02750: keys per-channel, values per-token,
//     group 32, residual window 32; lib/kv_pair.h),
// one run is a prefill (one forward over a [batch, T] prompt on a fresh cache) followed by
// `decode_tokens` single-token forward steps. Reported: prefill and decode tokens/s (medians over
// `repeats` runs after one warm-up run) and the KV memory in true bytes after the prefill and
// after the decode (KvCache::true_bytes: codes, scales, zeros and the residual window, with
// full-precision elements at the serving dtype's 2 bytes, as everywhere in kvmix).
//
// Contexts past the model's max_position_embeddings are run, not refused: RoPE is computed for
// any position, so the work per token (and so the throughput) is that of a real context of that
// length; only the model's outputs stop being meaningful. Such rows are flagged in the table and
// the JSON. (The built-in model is trained on 2048 positions and the default contexts include 4096.)
//
// The library measures and formats; the command loads the model and prints.
#include <cstdint>
#include <string>
#include <vector>

#include "lib/kv_pair.h"
#include "models/model.h"

namespace kvmix::bench {

struct ModelBenchOptions {
  std::vector<int64_t> contexts = {512, 4096};  // prompt tokens per sequence
  int64_t decode_tokens = 128;  // single-token steps after the prompt
  int64_t batch = 1;            // sequences per forward, all of the same length (no padding)
  int repeats = 5;
  uint64_t seed = 1;            // prompt and decode token ids
};

// One cache at one context length.
struct ModelBenchRow {
  int64_t context = 0;
  std::string cache;        // "full", "packed K4V4", "packed K2V2"
  KvPair pair;              // KV16 for the full-precision cache
  bool past_trained_length = false;  // context + decode_tokens > max_position_embeddings
  double prefill_seconds = 0;        // median, one forward over [batch, context]
  double decode_seconds = 0;         // median, all decode_tokens steps together
  double prefill_tokens_per_s = 0;   // batch * context / prefill_seconds
  double decode_tokens_per_s = 0;    // batch * decode_tokens / decode_seconds
  int64_t prefill_bytes = 0;         // true bytes held after the prefill (context tokens)
  int64_t decode_bytes = 0;          // and after the decode (context + decode_tokens tokens)
  // Ratios to the full-precision cache at the same context: > 1 is faster for the throughputs,
  // < 1 is smaller for the bytes (after the prefill).
  double prefill_speed_ratio = 0;
  double decode_speed_ratio = 0;
  double bytes_ratio = 0;
};

struct ModelBenchReport {
  ModelBenchOptions options;
  std::string model;        // the model's source (checkpoint folder)
  ModelConfig config;
  std::string dtype;        // compute dtype of the weights: fp32, bf16, fp16
  std::string device;       // where the model ran: cpu, cuda:0, ...
  int threads = 0;          // libtorch's intra-op threads during the run
  int kv_dtype_bytes = 0;   // bytes per full-precision K/V element in the byte figures
  std::vector<ModelBenchRow> rows;  // per context: full, then packed K4V4, then packed K2V2
};

// Runs the benchmark on `m` (on its device, with libtorch's current thread count). Error when an
// option is out of range or the model cannot hold a context (a sliding window shorter than it).
ModelBenchReport run_model_bench(const Model& m, const ModelBenchOptions& o);

// {"schema":"kvmix.bench.model","version":1,...,"results":[...]}
std::string model_bench_json(const ModelBenchReport& r);
// Markdown: the settings, one table row per cache and context, notes on the flagged rows.
std::string model_bench_markdown(const ModelBenchReport& r);

}  // namespace kvmix::bench
