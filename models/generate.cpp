#include "models/generate.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "base/error.h"
#include "lib/rng.h"
#include "models/llama_forward.h"

namespace kvmix {
namespace {

// Samples one id from a row of logits on the CPU (the draw reads the probabilities through a raw
// pointer).
int64_t sample(const at::Tensor& logits_row, const GenerateOptions& opt, Rng& rng) {
  auto l = logits_row.to(at::kDouble) / opt.temperature;
  if (opt.top_k > 0 && opt.top_k < l.size(0)) {
    auto kth = std::get<0>(l.topk(opt.top_k)).min();
    l = l.masked_fill(l < kth, -INFINITY);
  }
  auto p = at::softmax(l, 0).contiguous();
  const double* pp = p.data_ptr<double>();
  double u = rng.unit(), acc = 0;
  for (int64_t i = 0; i < p.size(0); ++i) {
    acc += pp[i];
    if (u < acc) return i;
  }
  return p.size(0) - 1;
}

}  // namespace

GenerateResult generate(const Model& m, const std::vector<std::vector<int64_t>>& prompts,
                        KvCache& cache, const GenerateOptions& opt) {
  KVMIX_CHECK(!prompts.empty(), "generate: no prompts");
  KVMIX_CHECK(cache.batch() == 0, "generate: the KV cache must be fresh");
  KVMIX_CHECK(opt.stop_strings.empty() || opt.detokenize,
              "generate: stop strings need a detokenizer");
  const int64_t B = static_cast<int64_t>(prompts.size());
  int64_t L = 0;
  for (const auto& p : prompts) {
    KVMIX_CHECK(!p.empty(), "generate: empty prompt");
    L = std::max<int64_t>(L, static_cast<int64_t>(p.size()));
  }
  // Built on the host, element by element, then moved to the model's device in one copy each.
  auto tokens = at::zeros({B, L}, at::kLong);
  auto valid = at::zeros({B, L}, at::kBool);
  for (int64_t b = 0; b < B; ++b) {
    const auto& p = prompts[static_cast<size_t>(b)];
    const int64_t pad = L - static_cast<int64_t>(p.size());
    tokens[b].narrow(0, pad, static_cast<int64_t>(p.size()))
        .copy_(at::tensor(p, at::kLong));
    valid[b].narrow(0, pad, static_cast<int64_t>(p.size())).fill_(true);
  }
  const at::Device device = model_device(m);
  tokens = tokens.to(device);
  valid = valid.to(device);

  ForwardOptions fo;
  fo.last_logits_only = true;
  at::Tensor logits;
  const int64_t chunk = opt.prefill_chunk > 0 ? opt.prefill_chunk : L;
  for (int64_t s = 0; s < L; s += chunk) {
    const int64_t n = std::min(chunk, L - s);
    logits = forward(m, tokens.narrow(1, s, n), valid.narrow(1, s, n), &cache, fo);
  }

  GenerateResult r;
  r.tokens.resize(static_cast<size_t>(B));
  r.stop_reason.assign(static_cast<size_t>(B), "length");
  std::vector<bool> done(static_cast<size_t>(B), false);
  std::vector<Rng> rngs;
  for (int64_t b = 0; b < B; ++b) rngs.push_back(Rng::from(opt.seed, static_cast<uint64_t>(b)));
  auto step_valid = at::ones({B, 1}, valid.options());
  for (int64_t t = 0; t < opt.max_new_tokens; ++t) {
    auto last = logits.select(1, logits.size(1) - 1);  // [B, vocab], on the device
    // Greedy picks are made where the logits are and only B ids come back to the host; sampling
    // brings the rows back, as its draw runs on the host.
    const bool greedy = opt.temperature <= 0.0;
    const at::Tensor host = greedy ? last.argmax(-1).to(at::kCPU).contiguous()  // [B] int64
                                   : last.to(at::kCPU);
    const int64_t* argmax = greedy ? host.data_ptr<int64_t>() : nullptr;
    std::vector<int64_t> next(static_cast<size_t>(B));
    bool all_done = true;
    for (int64_t b = 0; b < B; ++b) {
      const size_t ub = static_cast<size_t>(b);
      const int64_t id = greedy ? argmax[b] : sample(host[b], opt, rngs[ub]);
      next[ub] = id;
      if (done[ub]) continue;
      r.tokens[ub].push_back(id);
      if (std::find(opt.stop_ids.begin(), opt.stop_ids.end(), id) != opt.stop_ids.end()) {
        done[ub] = true, r.stop_reason[ub] = "stop_id";
      } else if (!opt.stop_strings.empty()) {
        const std::string text = opt.detokenize(r.tokens[ub]);
        for (const auto& s : opt.stop_strings)
          if (text.find(s) != std::string::npos)
            done[ub] = true, r.stop_reason[ub] = "stop_string";
      }
      all_done = all_done && done[ub];
    }
    if (all_done || t + 1 == opt.max_new_tokens) break;
    logits = forward(m, at::tensor(next, at::kLong).view({B, 1}), step_valid, &cache, fo);
  }
  return r;
}

}  // namespace kvmix
