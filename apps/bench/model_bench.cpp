#include "apps/bench/model_bench.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <chrono>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "lib/cache/make_kv_cache.h"
#include "models/device.h"
#include "models/llama_forward.h"  // forward, kv_shape

namespace kvmix::bench {

namespace {

// KIVI's scheme for the packed caches; its group and residual are fixed by lib/kv_pair.cpp.
constexpr Scheme kScheme = Scheme::kKivi;

struct CacheSpec {
  CacheKind kind;
  KvPair pair;
};

// The baseline first: the ratios of the other rows are taken against it.
const CacheSpec kCaches[] = {
    {CacheKind::kFull, KvPair{16, 16}},
    {CacheKind::kPacked, KvPair{4, 4}},
    {CacheKind::kPacked, KvPair{2, 2}},
};

std::string cache_label(const CacheSpec& s) {
  return s.kind == CacheKind::kFull ? "full" : fmt::format("packed K{}V{}", s.pair.k_bits, s.pair.v_bits);
}

struct RunFigures {
  double prefill_seconds = 0, decode_seconds = 0;
  int64_t prefill_bytes = 0, decode_bytes = 0;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// CUDA kernels run after their launch returns: a time is only taken once the device has finished
// the work, which reading one value of its output waits for. On the CPU the work is done already.
void wait_for(const at::Tensor& t) {
  if (!t.device().is_cpu()) (void)t.reshape({-1})[0].item<float>();
}

// One prefill and decode on a fresh cache. The decode feeds pre-drawn ids rather than the
// model's argmax, so that every cache runs the same token stream and only the cache differs.
RunFigures run_once(const Model& m, const CacheSpec& s, const at::Tensor& prompt,    // [B, T]
                    const at::Tensor& decode_ids) {                                  // [B, N]
  const std::unique_ptr<KvCache> cache =
      make_kv_cache(s.kind, kv_shape(m.config), uniform_layers(kScheme, s.pair, m.config.num_layers));
  ForwardOptions fo;
  fo.last_logits_only = true;  // as generation runs it: the LM head on the newest slot only
  RunFigures f;
  auto t0 = std::chrono::steady_clock::now();
  wait_for(forward(m, prompt, at::Tensor(), cache.get(), fo));
  f.prefill_seconds = seconds_since(t0);
  f.prefill_bytes = cache->true_bytes();
  t0 = std::chrono::steady_clock::now();
  at::Tensor logits;
  for (int64_t t = 0; t < decode_ids.size(1); ++t)
    logits = forward(m, decode_ids.narrow(1, t, 1), at::Tensor(), cache.get(), fo);
  wait_for(logits);
  f.decode_seconds = seconds_since(t0);
  f.decode_bytes = cache->true_bytes();
  return f;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

const char* dtype_name(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "fp32";
    case at::kBFloat16: return "bf16";
    case at::kHalf: return "fp16";
    default: return "other";
  }
}

}  // namespace

ModelBenchReport run_model_bench(const Model& m, const ModelBenchOptions& o) {
  const ModelConfig& c = m.config;
  KVMIX_CHECK(!o.contexts.empty(), "bench model: no context lengths");
  KVMIX_CHECK(o.decode_tokens >= 1, "bench model: --decode-tokens must be at least 1, got {}", o.decode_tokens);
  KVMIX_CHECK(o.batch >= 1, "bench model: --batch must be at least 1, got {}", o.batch);
  KVMIX_CHECK(o.repeats >= 1, "bench model: --repeats must be at least 1, got {}", o.repeats);
  for (int64_t T : o.contexts) {
    KVMIX_CHECK(T >= 1, "bench model: context lengths must be positive, got {}", T);
    // Refused up front rather than after minutes of the other contexts (models/llama_forward.cpp
    // refuses positions past a sliding window instead of truncating).
    KVMIX_CHECK(c.sliding_window == 0 || T + o.decode_tokens <= c.sliding_window,
                "bench model: context {} + {} decode tokens exceeds {}'s sliding window of {} tokens",
                T, o.decode_tokens, m.source, c.sliding_window);
  }

  ModelBenchReport rep;
  rep.options = o;
  rep.model = m.source;
  rep.config = c;
  rep.dtype = dtype_name(m.weights.embed.scalar_type());
  rep.device = device_name(model_device(m));
  rep.threads = at::get_num_threads();
  rep.kv_dtype_bytes = kv_shape(c).model_dtype_bytes;

  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(o.seed);
  constexpr size_t kNumCaches = std::size(kCaches);
  for (int64_t T : o.contexts) {
    // Drawn on the host (the same ids whatever the device), then moved before any timing.
    const at::Device device = model_device(m);
    const at::Tensor prompt = at::randint(c.vocab_size, {o.batch, T}, gen, at::kLong).to(device);
    const at::Tensor decode_ids =
        at::randint(c.vocab_size, {o.batch, o.decode_tokens}, gen, at::kLong).to(device);
    // Rounds run every cache once, in turn, so that a slow spell of the machine (another job,
    // frequency changes) lands on all caches alike instead of on whichever ran then. Round 0 is
    // the warm-up: first-touch page faults and libtorch's lazy initialization.
    std::vector<std::vector<double>> prefill(kNumCaches), decode(kNumCaches);
    std::vector<RunFigures> last(kNumCaches);
    for (int round = 0; round <= o.repeats; ++round)
      for (size_t i = 0; i < kNumCaches; ++i) {
        const RunFigures f = run_once(m, kCaches[i], prompt, decode_ids);
        if (round > 0) {
          KVMIX_ASSERT(round == 1 || (f.prefill_bytes == last[i].prefill_bytes &&
                                      f.decode_bytes == last[i].decode_bytes),
                       "bench model: {} held different bytes in two runs", cache_label(kCaches[i]));
          prefill[i].push_back(f.prefill_seconds);
          decode[i].push_back(f.decode_seconds);
        }
        last[i] = f;
      }
    const size_t first = rep.rows.size();
    for (size_t i = 0; i < kNumCaches; ++i) {
      ModelBenchRow r;
      r.context = T;
      r.cache = cache_label(kCaches[i]);
      r.pair = kCaches[i].pair;
      r.past_trained_length = T + o.decode_tokens > c.max_position_embeddings;
      r.prefill_seconds = median(prefill[i]);
      r.decode_seconds = median(decode[i]);
      r.prefill_tokens_per_s = static_cast<double>(o.batch * T) / r.prefill_seconds;
      r.decode_tokens_per_s = static_cast<double>(o.batch * o.decode_tokens) / r.decode_seconds;
      r.prefill_bytes = last[i].prefill_bytes;
      r.decode_bytes = last[i].decode_bytes;
      const ModelBenchRow& base = i == 0 ? r : rep.rows[first];
      r.prefill_speed_ratio = r.prefill_tokens_per_s / base.prefill_tokens_per_s;
      r.decode_speed_ratio = r.decode_tokens_per_s / base.decode_tokens_per_s;
      r.bytes_ratio = static_cast<double>(r.prefill_bytes) / static_cast<double>(base.prefill_bytes);
      rep.rows.push_back(r);
    }
  }
  return rep;
}

std::string model_bench_json(const ModelBenchReport& r) {
  nlohmann::json results = nlohmann::json::array();
  for (const ModelBenchRow& b : r.rows)
    results.push_back({{"context", b.context},
                       {"cache", b.cache},
                       {"k_bits", b.pair.k_bits},
                       {"v_bits", b.pair.v_bits},
                       {"past_trained_length", b.past_trained_length},
                       {"prefill_seconds", b.prefill_seconds},
                       {"prefill_tokens_per_s", b.prefill_tokens_per_s},
                       {"prefill_speed_ratio", b.prefill_speed_ratio},
                       {"decode_seconds", b.decode_seconds},
                       {"decode_tokens_per_s", b.decode_tokens_per_s},
                       {"decode_speed_ratio", b.decode_speed_ratio},
                       {"kv_bytes_after_prefill", b.prefill_bytes},
                       {"kv_bytes_after_decode", b.decode_bytes},
                       {"kv_bytes_ratio", b.bytes_ratio}});
  const ModelBenchOptions& o = r.options;
  const ModelConfig& c = r.config;
  const nlohmann::json out = {
      {"schema", "kvmix.bench.model"},
      {"version", 1},
      {"seed", o.seed},
      {"repeats", o.repeats},
      {"batch", o.batch},
      {"decode_tokens", o.decode_tokens},
      {"contexts", o.contexts},
      {"device", r.device},
      {"threads", r.threads},
      {"model", {{"source", r.model}, {"dtype", r.dtype}, {"layers", c.num_layers},
                 {"q_heads", c.num_heads}, {"kv_heads", c.num_kv_heads}, {"head_dim", c.head_dim},
                 {"max_position_embeddings", c.max_position_embeddings}}},
      {"scheme", scheme_name(kScheme)},
      {"kv_dtype_bytes", r.kv_dtype_bytes},
      {"baseline", "full"},
      {"results", results}};
  return out.dump(1) + "\n";
}

std::string model_bench_markdown(const ModelBenchReport& r) {
  const ModelBenchOptions& o = r.options;
  const ModelConfig& c = r.config;
  std::string s = "# kvmix bench model\n\n";
  s += fmt::format("Model: `{}`: {} layers, {} query / {} KV heads x {} dims, {}, trained on {} positions.\n",
                   r.model, c.num_layers, c.num_heads, c.num_kv_heads, c.head_dim, r.dtype,
                   c.max_position_embeddings);
  s += fmt::format("Device {}, {} CPU threads; batch {}; prefill = one forward over the prompt, "
                   "decode = {} single-token steps after it; median of {} timed runs after one warm-up run; seed {}.\n\n",
                   r.device, r.threads, o.batch, o.decode_tokens, o.repeats, o.seed);
  s += fmt::format("Caches: full precision (the baseline), packed K4V4 and K2V2 under {} (keys per-channel, "
                   "values per-token, group 32, residual 32). KV bytes: true bytes held after the prefill "
                   "(codes, scales, zeros, residual window; full-precision elements at {} bytes). "
                   "`x full`: ratio to the full-precision cache at the same context, measured in the same run.\n\n",
                   scheme_name(kScheme), r.kv_dtype_bytes);
  s += "| context | cache | prefill tok/s | x full | decode tok/s | x full | KV bytes | x full |\n";
  s += "|---:|---|---:|---:|---:|---:|---:|---:|\n";
  bool flagged = false;
  for (const ModelBenchRow& b : r.rows) {
    flagged = flagged || b.past_trained_length;
    s += fmt::format("| {}{} | {} | {:.0f} | {:.2f} | {:.1f} | {:.2f} | {} | {:.3f} |\n", b.context,
                     b.past_trained_length ? "*" : "", b.cache, b.prefill_tokens_per_s,
                     b.prefill_speed_ratio, b.decode_tokens_per_s, b.decode_speed_ratio, b.prefill_bytes,
                     b.bytes_ratio);
  }
  if (flagged)
    s += fmt::format("\n\\* Positions run past the {} the model was trained on. RoPE extends to any position, "
                     "so the work per token, and the throughput, are those of a real context of that "
                     "length; the model's outputs there are not meaningful.\n",
                     c.max_position_embeddings);
  return s;
}

}  // namespace kvmix::bench
