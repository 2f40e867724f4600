#pragma once
// `kvmix profile`: layer-wise sensitivity. For every layer l and candidate pair p, quantize layer l
// alone and measure, on the calibration split, K and V relative error, attention-score error,
// attention-output relative error and next-token KL against full precision.
//
// Shared work (one pass serves many cells):
//  1. each calibration batch is prefilled ONCE in full precision;
//  2. its continuation (the teacher-forced target) runs ONCE in full precision, recording the
//     hidden state entering every layer;
//  3. for a cell (l, p) only layer l's cached prompt K/V are re-quantized, and only layers l..L-1
//     of the continuation are re-run from the recorded hidden state (layers below l are unchanged
//     by construction). The attention-level errors come from layer l alone.
// The continuation attends to the quantized prompt cache and to itself in full precision (the
// cache semantics of lib/cache/kv_cache.h for a chunk), so the prompt is what is quantized.
#include <nlohmann/json.hpp>

#include <atomic>
#include <string>
#include <vector>

#include "lib/kv_pair.h"
#include "lib/tokenizer/tokenizer.h"
#include "models/model.h"
#include "search/sensitivity.h"
#include "search/task_data.h"
#include "search/team_work.h"

namespace kvmix {

struct ProfileOptions {
  Scheme scheme = Scheme::kKivi;
  std::vector<KvPair> pairs = default_candidate_pairs();
  std::vector<TaskSpec> tasks;          // calibration split
  int64_t batch = 16;
  int64_t max_continuation = 64;        // scored continuation tokens per sample
  int64_t reference_tokens = 4096;
  bool progress = true;
  // Interrupt and resume: `stop` is polled after every layer; when set, run_profile throws
  // kvmix::Interrupted. With a checkpoint path, the per-sample values of every cell are saved there
  // atomically after each finished calibration batch, and a checkpoint whose key equals
  // checkpoint_key is resumed from (its batches are not run again). The key names everything the
  // values depend on (model, pairs, scheme, tasks, dtype): a checkpoint with another key is an
  // error, never mixed in.
  const std::atomic<bool>* stop = nullptr;
  std::string checkpoint_path;
  std::string checkpoint_key;
};

// Shares its work over the ranks of an MPI job (search/team_work.h): one item per calibration
// batch and layer, whose cells any rank computes alike, so the profile does not depend on the
// number of ranks.
Sensitivity run_profile(const Model& m, const Tokenizer& tok, const ProfileOptions& opt);

// A "profile_layer" work item: one batch's full-precision record (kept for the batch's next
// layer), then every pair's cell for the item's layer.
nlohmann::json profile_layer_work(const Model& m, const nlohmann::json& item, WorkCache& cache);

}  // namespace kvmix
