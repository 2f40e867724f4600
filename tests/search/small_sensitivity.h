#pragma once
// A hand-built profile for the readers' tests (sensitivity.json, front.json): a 3-layer model with
// 2 KV heads of 32 channels under kivi, four pairs, made-up errors that grow as bits drop, and the
// true bytes of each pair (search/sensitivity.h pair_bytes_per_token), as run_profile records them.
#include <vector>

#include "search/front.h"
#include "search/sensitivity.h"

namespace kvmix::test {

inline Sensitivity small_sensitivity() {
  Sensitivity s;
  s.model.architecture = "llama";
  s.model.layers = 3;
  s.model.q_heads = 4;
  s.model.kv_heads = 2;
  s.model.head_dim = 32;
  s.model.config_hash = "0123456789abcdef";
  s.scheme = Scheme::kKivi;
  for (const char* name : {"KV8", "K8V4", "KV4", "KV2"}) s.pairs.push_back(parse_pair(name));
  s.tasks = {"arith", "recall"};
  s.samples = 8;
  s.continuation_tokens = 64;
  s.reference_tokens = 4096;
  s.full_precision_bytes_per_token = full_precision_layer_bytes_per_token(s);
  for (size_t l = 0; l < 3; ++l) {
    s.cells.emplace_back();
    for (size_t p = 0; p < s.pairs.size(); ++p) {
      CellStats c;
      const double e = 0.01 * static_cast<double>((p + 1) * (l + 1));
      c.k_rel_err = c.v_rel_err = c.out_rel_err = e;
      c.attn_tv = e / 2;
      c.kl = e * e;
      c.kl_p90 = 2 * e * e;
      c.k_rel_err_std = c.v_rel_err_std = c.attn_tv_std = c.out_rel_err_std = c.kl_std = e / 10;
      c.bytes_per_token = pair_bytes_per_token(s, p);
      s.cells.back().push_back(c);
    }
  }
  return s;
}

// One evaluation of `lp` (a pair per layer) with the made-up `kl`, its bytes the pairs'.
inline Trial small_trial(const Sensitivity& s, int64_t id, const std::vector<size_t>& lp, double kl,
                         const char* origin) {
  Trial t;
  t.id = id;
  t.layer_pairs = lp;
  for (size_t p : lp) t.bytes_per_token += pair_bytes_per_token(s, p);
  t.kl = kl;
  t.origin = origin;
  return t;
}

// A front as run_search builds one from `trials`, in order: the hypervolume after each, the
// reference full precision and 1 nat.
inline Front small_front_of(const Sensitivity& s, const std::vector<Trial>& trials) {
  Front f;
  f.method = "kvmix";
  f.sensitivity = s;
  f.sensitivity.cells.clear();
  f.hv_reference = {s.full_precision_bytes_per_token * static_cast<double>(s.model.layers), 1.0};
  std::vector<Trial> seen;
  for (const Trial& t : trials) {
    seen.push_back(t);
    f.hypervolume_curve.push_back(front_hypervolume(front_of(s, seen, 0), f.hv_reference));
  }
  f.points = front_of(s, trials, 0);
  f.evaluations = static_cast<int64_t>(trials.size());
  return f;
}

}  // namespace kvmix::test
