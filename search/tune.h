#pragma once
// `kvmix tune` as one library call: profile -> prune -> cluster -> exact proxy front -> search on
// the calibration KL (journal.jsonl, front.json) -> the choice (the fewest bytes within max_kl) ->
// held-out eval of it beside uniform baselines (eval.json) -> export (config.json) -> summary.md,
// all into one run folder that a rerun resumes from.
//
// Reuse is by identity, never by a file's mere presence. run.json records, per stage, everything
// its result depends on (model weights hash, config hash, compute dtype, scheme, pairs, tasks,
// samples, seeds, eval settings, the chosen formats):
//  - profile: hours on a real model, so a sensitivity.json made under another identity is never
//    redone silently: the call refuses and names every option that changed;
//  - search: the journal's header is its identity; a changed one is refused the same way;
//  - held-out eval: depends on the choice, so a changed choice or eval option reruns it;
//  - config.json and summary.md are rebuilt from this run's choice and eval every time.
// The folder is locked for the whole call (lib/io/dir_lock.h). An interrupt (stop set) ends the
// call within one calibration batch, evaluation or eval task, keeping what finished: the profile
// checkpoint, the journal, the stages done.
#include <atomic>
#include <string>
#include <vector>

#include "lib/tokenizer/tokenizer.h"
#include "models/model.h"
#include "search/tune_stages.h"

namespace kvmix {

struct TuneOptions {
  std::string model_label = "builtin";  // the model as the user named it (summary, provenance)
  std::string dtype = "fp32";           // compute dtype the model was loaded in
  ProfileStageOptions profile;
  SearchStageOptions search;
  std::vector<std::string> eval_tasks = {"arith", "recall", "text"};
  int64_t eval_samples = 32;
  double max_kl = 0.02;  // chosen config: smallest bytes with calibration KL <= this
};

struct TuneResult {
  bool complete = false;  // false: interrupted; rerun the same call to continue
  std::string summary;    // summary.md's text (empty when interrupted)
  std::vector<std::string> chosen_pairs;  // per layer, e.g. "K8V2"
  double chosen_bytes_per_token = 0;
};

// Checks every option before any work starts (a kvmix::UsageError names the bad one).
void check_tune_options(const TuneOptions& o);

TuneResult run_tune(const Model& m, const Tokenizer& tok, const TuneOptions& o, const std::string& out,
                    const std::atomic<bool>* stop);

}  // namespace kvmix
