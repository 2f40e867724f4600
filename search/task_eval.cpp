#include "search/task_eval.h"

#include <ATen/ATen.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <set>
#include <string>

#include "base/error.h"
#include "lib/process/progress.h"
#include "models/generate.h"
#include "models/llama_forward.h"

namespace kvmix {

// A step of zero never advances the loops below (they would spin forever); negative ones index
// backwards. The command line refuses both; this guards every other caller.
void check_eval_options(const EvalOptions& opt) {
  KVMIX_CHECK(opt.batch > 0, "evaluation batch must be at least 1 sequence, got {}", opt.batch);
  KVMIX_CHECK(opt.decode_chunk > 0, "decode chunk must be at least 1 token, got {}",
              opt.decode_chunk);
}

namespace {

void check_stop(const EvalOptions& opt) {
  if (opt.stop && opt.stop->load()) throw Interrupted("evaluation stopped");
}

// Positions past max_position_embeddings are outside what the model was trained on: its scores
// there say little about the cache. Evaluated anyway (a user may mean it), but said once per task
// in a process, not once per config evaluated on it.
void warn_beyond_context(const Model& m, const TaskData& data) {
  const int64_t limit = m.config.max_position_embeddings;
  int64_t longest = 0, over = 0;
  for (size_t i = 0; i < data.prompts.size(); ++i) {
    // The teacher-forced pass: what is certainly run (generation usually stops well before its
    // budget, so counting max_new_tokens would warn about positions never reached).
    const int64_t n = static_cast<int64_t>(data.prompts[i].size() + data.continuations[i].size());
    longest = std::max(longest, n);
    over += n > limit;
  }
  if (over == 0) return;
  static std::mutex mutex;
  static std::set<std::string> warned;  // task names
  {
    const std::lock_guard<std::mutex> lock(mutex);
    if (!warned.insert(data.name).second) return;
  }
  spdlog::warn(
      "task {}: {} of {} samples need up to {} positions (prompt and continuation), past the "
      "model's max_position_embeddings {}: scores there are outside its trained context",
      data.name, over, data.prompts.size(), longest, limit);
}

}  // namespace

at::Tensor kl_per_position(const at::Tensor& ref, const at::Tensor& lp) {
  // sum_v p (log p - log q); clamp tiny negatives from rounding
  return (ref.exp() * (ref - lp)).sum(-1).clamp_min(0.0);
}

std::vector<at::Tensor> teacher_forced_logprobs(const Model& m, const TaskData& data,
                                                const CacheFactory& make_cache,
                                                const EvalOptions& opt, int64_t* tokens_held,
                                                int64_t* bytes) {
  check_eval_options(opt);
  warn_beyond_context(m, data);
  const int64_t N = static_cast<int64_t>(data.prompts.size());
  std::vector<at::Tensor> out(static_cast<size_t>(N));
  int64_t held = 0, total_bytes = 0;
  for (int64_t b0 = 0; b0 < N; b0 += opt.batch) {
    check_stop(opt);
    const int64_t B = std::min(opt.batch, N - b0);
    int64_t Lp = 0, Lc = 0;
    for (int64_t i = 0; i < B; ++i) {
      Lp = std::max<int64_t>(Lp, static_cast<int64_t>(data.prompts[static_cast<size_t>(b0 + i)].size()));
      Lc = std::max<int64_t>(Lc, static_cast<int64_t>(data.continuations[static_cast<size_t>(b0 + i)].size()));
    }
    // prompts left-padded, continuations right-padded (invalid slots are never attended)
    auto ptok = at::zeros({B, Lp}, at::kLong), pval = at::zeros({B, Lp}, at::kBool);
    auto ctok = at::zeros({B, Lc}, at::kLong), cval = at::zeros({B, Lc}, at::kBool);
    for (int64_t i = 0; i < B; ++i) {
      const auto& p = data.prompts[static_cast<size_t>(b0 + i)];
      const auto& c = data.continuations[static_cast<size_t>(b0 + i)];
      const int64_t np = static_cast<int64_t>(p.size()), nc = static_cast<int64_t>(c.size());
      ptok[i].narrow(0, Lp - np, np).copy_(at::tensor(p, at::kLong));
      pval[i].narrow(0, Lp - np, np).fill_(true);
      if (nc > 0) {
        ctok[i].narrow(0, 0, nc).copy_(at::tensor(c, at::kLong));
        cval[i].narrow(0, 0, nc).fill_(true);
      }
    }
    // filled on the host, used on the model's device
    const at::Device device = model_device(m);
    ptok = ptok.to(device), pval = pval.to(device);
    ctok = ctok.to(device), cval = cval.to(device);
    auto cache = make_cache();
    ForwardOptions last;
    last.last_logits_only = true;
    std::vector<at::Tensor> pieces;  // log-probs predicting continuation positions
    pieces.push_back(at::log_softmax(forward(m, ptok, pval, cache.get(), last), -1));
    // feed continuation tokens 0..Lc-2; their logits predict positions 1..Lc-1
    for (int64_t s = 0; s + 1 < Lc; s += opt.decode_chunk) {
      const int64_t n = std::min(opt.decode_chunk, Lc - 1 - s);
      auto logits = forward(m, ctok.narrow(1, s, n), cval.narrow(1, s, n), cache.get());
      pieces.push_back(at::log_softmax(logits, -1));
    }
    auto lp = at::cat(pieces, 1);  // [B, Lc, V]
    for (int64_t i = 0; i < B; ++i) {
      const int64_t nc = static_cast<int64_t>(data.continuations[static_cast<size_t>(b0 + i)].size());
      out[static_cast<size_t>(b0 + i)] = lp[i].narrow(0, 0, nc).clone();
    }
    held += cache->tokens_seen().sum().item<int64_t>();
    total_bytes += cache->true_bytes();
  }
  if (tokens_held) *tokens_held = held;
  if (bytes) *bytes = total_bytes;
  return out;
}

TaskScore evaluate_task(const Model& m, const Tokenizer& tok, const TaskData& data,
                        const CacheFactory& make_cache, const EvalOptions& opt,
                        const ReferenceLogprobs* reference, ReferenceLogprobs* reference_out) {
  check_eval_options(opt);
  TaskScore s;
  s.task = data.name;
  const int64_t N = static_cast<int64_t>(data.prompts.size());
  s.samples = N;

  auto lps = teacher_forced_logprobs(m, data, make_cache, opt, &s.tokens_held, &s.true_bytes);
  double nll_sum = 0, kl_sum = 0;
  int64_t count = 0;
  std::vector<double> sample_kl;
  s.sample_kl.assign(static_cast<size_t>(N), std::nan(""));
  for (int64_t i = 0; i < N; ++i) {
    const auto& c = data.continuations[static_cast<size_t>(i)];
    if (c.empty()) continue;
    const auto& lp = lps[static_cast<size_t>(i)];
    auto target = at::tensor(c, at::kLong).to(lp.device()).unsqueeze(1);
    nll_sum += -lp.gather(1, target).sum().item<double>();
    count += static_cast<int64_t>(c.size());
    if (reference) {
      auto kl = kl_per_position(reference->logprobs.at(static_cast<size_t>(i)), lp);
      kl_sum += kl.sum().item<double>();
      sample_kl.push_back(kl.mean().item<double>());
      s.sample_kl[static_cast<size_t>(i)] = sample_kl.back();
    }
  }
  s.nll = count ? nll_sum / static_cast<double>(count) : 0.0;
  s.kl = count && reference ? kl_sum / static_cast<double>(count) : 0.0;
  if (!sample_kl.empty()) {
    std::sort(sample_kl.begin(), sample_kl.end());
    s.kl_p95 = sample_kl[static_cast<size_t>(0.95 * static_cast<double>(sample_kl.size() - 1))];
  }
  if (reference_out) reference_out->logprobs = lps;

  if (!data.generative || !opt.generate) {
    s.metric = "perplexity";
    s.score = std::exp(s.nll);
    if (opt.on_scored) opt.on_scored(data, s);
    return s;
  }
  s.metric = "exact_match";
  GenerateOptions go;
  go.max_new_tokens = data.max_new_tokens;
  go.stop_ids = tok.eos_ids();
  go.stop_strings = {"\n"};
  go.detokenize = [&tok](const std::vector<int64_t>& ids) { return tok.decode(ids, true); };
  int64_t ok = 0;
  for (int64_t b0 = 0; b0 < N; b0 += opt.batch) {
    check_stop(opt);
    const int64_t B = std::min(opt.batch, N - b0);
    std::vector<std::vector<int64_t>> prompts(data.prompts.begin() + b0, data.prompts.begin() + b0 + B);
    auto cache = make_cache();
    auto r = generate(m, prompts, *cache, go);
    for (int64_t i = 0; i < B; ++i) {
      std::string text = tok.decode(r.tokens[static_cast<size_t>(i)], true);
      const bool good = answer_correct(text, data.answers[static_cast<size_t>(b0 + i)], data.scoring);
      s.correct.push_back(good);
      s.generated.push_back(std::move(text));
      ok += good;
    }
  }
  s.score = static_cast<double>(ok) / static_cast<double>(N);
  if (opt.on_scored) opt.on_scored(data, s);
  return s;
}

}  // namespace kvmix
