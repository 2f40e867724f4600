#pragma once
// Evaluates one KV cache configuration on one materialized task:
//  - teacher-forced pass over each sample's continuation: mean NLL (perplexity for text) and the
//    KL divergence of next-token distributions against full precision, position by position;
//  - generation pass (generative tasks): greedy decoding through the same cache, exact match.
// The full-precision pass produces the reference log-probabilities the other configs are compared
// with, so a run computes it once.
#include <atomic>
#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lib/cache/kv_cache.h"
#include "lib/tokenizer/tokenizer.h"
#include "models/model.h"
#include "search/task_data.h"

namespace kvmix {

using CacheFactory = std::function<std::unique_ptr<KvCache>()>;

struct TaskScore;

struct EvalOptions {
  int64_t batch = 16;         // sequences per cache; at least 1
  int64_t decode_chunk = 1;   // continuation tokens per forward step in the teacher-forced pass;
                              // at least 1
  bool generate = true;       // run the generation pass of generative tasks
  bool progress = true;
  // Checked before each batch: when set, the evaluation throws Interrupted (an interrupt stops
  // within one batch, not one whole task).
  const std::atomic<bool>* stop = nullptr;
  // Called once at the end of each evaluate_task with the task and its score, per-sample fields
  // included: how `kvmix eval --samples-out` reaches per-sample results without a second pass.
  std::function<void(const TaskData&, const TaskScore&)> on_scored;
};

// A kvmix::Error for a batch or decode chunk below 1.
void check_eval_options(const EvalOptions& opt);

// Per-sample log-probabilities of the continuation positions, [len_i, vocab] each.
struct ReferenceLogprobs {
  std::vector<at::Tensor> logprobs;
};

struct TaskScore {
  std::string task;
  std::string metric;      // "exact_match" or "perplexity"
  double score = 0;        // exact-match rate in [0, 1], or perplexity
  double nll = 0;          // mean teacher-forced NLL per continuation token (nats)
  double kl = 0;           // mean KL(full precision || this) per continuation token (nats)
  double kl_p95 = 0;       // 95th percentile of per-sample mean KL
  int64_t samples = 0;
  int64_t tokens_held = 0; // tokens in the caches at the end of the teacher-forced pass
  int64_t true_bytes = 0;  // their true bytes
  std::vector<uint8_t> correct;  // per sample (generative)
  // Per sample, in sample order: mean KL per continuation token (NaN without a reference or a
  // continuation), and the generated text (generative tasks) that `correct` scored.
  std::vector<double> sample_kl;
  std::vector<std::string> generated;
};

// `reference` (may be null) supplies full-precision log-probs for KL; `reference_out` (may be null)
// receives this run's log-probs (pass it when evaluating the full-precision cache). A batch or
// decode chunk below 1 is a kvmix::Error; samples longer than max_position_embeddings are
// evaluated, with one warning per task.
TaskScore evaluate_task(const Model& m, const Tokenizer& tok, const TaskData& data,
                        const CacheFactory& make_cache, const EvalOptions& opt,
                        const ReferenceLogprobs* reference, ReferenceLogprobs* reference_out);

// The teacher-forced pass alone: log-probs [len_i, vocab] of each continuation position.
std::vector<at::Tensor> teacher_forced_logprobs(const Model& m, const TaskData& data,
                                                const CacheFactory& make_cache,
                                                const EvalOptions& opt, int64_t* tokens_held,
                                                int64_t* true_bytes);

// Mean KL(p || q) per position from log-probs [n, vocab] (p the reference).
at::Tensor kl_per_position(const at::Tensor& ref_logprobs, const at::Tensor& logprobs);

}  // namespace kvmix
