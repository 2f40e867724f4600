#include "search/front_search.h"

#include <pagmo/algorithms/nsga2.hpp>
#include <pagmo/batch_evaluators/member_bfe.hpp>
#include <pagmo/bfe.hpp>
#include <pagmo/population.hpp>
#include <pagmo/problem.hpp>
#include <pagmo/utils/generic.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <set>

#include "base/error.h"
#include "lib/process/progress.h"

namespace kvmix {
namespace {

struct SearchContext {
  const Sensitivity* s;
  const Clustering* c;
  const Objective* objective;
  Journal* journal;
  const std::atomic<bool>* stop;
  double budget;
  double fp_bytes;  // full-precision bytes per token (normalization of the cost objective)
  std::string origin;
  Point2 ref;
  Progress* progress;
  // Distinct configurations this method asked for, in order (replayed from the journal or new):
  // their number is the method's count of full evaluations.
  std::set<std::vector<size_t>> seen;
  std::vector<Trial> run_trials;
  std::vector<double> curve;  // hypervolume after each of them
};

// Full evaluations through the journal, as one batch: configurations the journal holds are
// replayed, the others evaluated together (over the ranks of an MPI job, search/team_work.h) and
// journaled as each arrives, so a killed job keeps every finished one. The method's own record
// (the distinct configurations it asked for, the hypervolume curve) follows the batch's order,
// whichever rank finished first: the front does not depend on the number of ranks.
std::vector<Trial> evaluate_trials(SearchContext& C, const std::vector<std::vector<size_t>>& lps) {
  std::vector<std::vector<size_t>> todo;
  std::set<std::vector<size_t>> queued;
  for (const auto& lp : lps)
    if (!C.journal->find(lp) && queued.insert(lp).second) todo.push_back(lp);
  if (!todo.empty()) {
    if (C.stop && C.stop->load()) throw SearchInterrupted{};
    const auto values = C.objective->evaluate_batch(todo, C.stop, [&](size_t i, const ObjectiveValue& v) {
      Trial nt;
      nt.layer_pairs = todo[i];
      nt.bytes_per_token = v.bytes_per_token;
      nt.kl = v.kl;
      nt.origin = C.origin;
      nt.seconds = v.seconds;
      C.journal->append(nt);
    });
    for (const auto& v : values)
      if (!v) throw SearchInterrupted{};
  }
  std::vector<Trial> out;
  for (const auto& lp : lps) {
    const Trial* t = C.journal->find(lp);
    KVMIX_CHECK(t, "search: a configuration evaluated but not journaled");
    if (C.seen.insert(lp).second) {
      C.run_trials.push_back(*t);
      C.curve.push_back(front_hypervolume(front_of(*C.s, C.run_trials, C.budget), C.ref));
      C.progress->advance();
    }
    out.push_back(*t);
  }
  return out;
}

// The pagmo user-defined problem. pagmo copies it, so the state lives behind a shared pointer.
struct KvSearchProblem {
  std::shared_ptr<SearchContext> ctx;

  std::vector<size_t> decode(const pagmo::vector_double& x) const {
    std::vector<size_t> per_cluster;
    for (size_t k = 0; k < x.size(); ++k) {
      const auto& cand = ctx->c->candidates[k];
      const long i = std::clamp<long>(std::lround(x[k]), 0, static_cast<long>(cand.size()) - 1);
      per_cluster.push_back(cand[static_cast<size_t>(i)]);
    }
    return expand_choice(*ctx->c, per_cluster, static_cast<size_t>(ctx->s->model.layers));
  }

  pagmo::vector_double objectives(const Trial& t) const {
    const double penalty = (ctx->budget > 0 && t.bytes_per_token > ctx->budget) ? 1e6 : 0.0;
    return {t.bytes_per_token / ctx->fp_bytes + penalty, t.kl + penalty};
  }

  pagmo::vector_double fitness(const pagmo::vector_double& x) const {
    return objectives(evaluate_trials(*ctx, {decode(x)}).front());
  }

  // NSGA-II's offspring of a generation as one batch (pagmo's member_bfe calls this): the ranks of
  // an MPI job evaluate them together. pagmo draws the same offspring either way.
  pagmo::vector_double batch_fitness(const pagmo::vector_double& dvs) const {
    const size_t n = ctx->c->candidates.size();
    std::vector<std::vector<size_t>> lps;
    for (size_t i = 0; i + n <= dvs.size(); i += n)
      lps.push_back(decode(pagmo::vector_double(dvs.begin() + static_cast<long>(i), dvs.begin() + static_cast<long>(i + n))));
    pagmo::vector_double f;
    for (const Trial& t : evaluate_trials(*ctx, lps))
      for (double v : objectives(t)) f.push_back(v);
    return f;
  }

  std::pair<pagmo::vector_double, pagmo::vector_double> get_bounds() const {
    pagmo::vector_double lb, ub;
    for (const auto& cand : ctx->c->candidates) {
      lb.push_back(0.0);
      ub.push_back(static_cast<double>(cand.size() - 1));
    }
    return {lb, ub};
  }
  pagmo::vector_double::size_type get_nobj() const { return 2; }
  pagmo::vector_double::size_type get_nix() const { return ctx->c->candidates.size(); }
  std::string get_name() const { return "kvmix per-layer KV precision"; }
};

// ---- the kvmix method's refinement: a corrected proxy picks each next evaluation ----

// Per-cluster profiled error of a per-layer configuration: the features of the corrected proxy.
std::vector<double> cluster_features(const Sensitivity& s, const Clustering& c, ErrorMetric m,
                                     const std::vector<size_t>& lp) {
  std::vector<double> f(c.layers.size(), 0.0);
  for (size_t k = 0; k < c.layers.size(); ++k)
    for (size_t l : c.layers[k]) f[k] += cell_error(s.cells[l][lp[l]], m);
  return f;
}

// Per-cluster choices the next evaluation is picked from: all of them when the space is small
// (the usual case after clustering), otherwise the corrected proxy's exact front and every
// configuration one cluster away from it.
std::vector<std::vector<size_t>> refine_candidates(const Sensitivity& s, const Clustering& c,
                                                   ErrorMetric m, const std::vector<double>& w) {
  constexpr double kEnumerateLog10 = 5.0;
  if (log10_search_space(c) <= kEnumerateLog10) return all_choices(c);
  std::set<std::vector<size_t>> set;
  for (const auto& p : exact_proxy_front(s, c, m, w)) {
    set.insert(p.choice);
    for (size_t k = 0; k < c.layers.size(); ++k)
      for (size_t q : c.candidates[k]) {
        auto n = p.choice;
        n[k] = q;
        set.insert(std::move(n));
      }
  }
  return {set.begin(), set.end()};
}

// Evaluates configurations chosen by the corrected proxy until the method has spent `total`
// evaluations (or no configuration is left), `batch` at a time. Within a batch the picks are
// made one after another, each pretending the ones before it were measured at their predicted KL
// (the "believer" heuristic of batch Bayesian optimization), so a batch spreads over the front
// instead of taking the same gap `batch` times. A batch of 1 is the sequential method.
void refine(SearchContext& C, int64_t total, int64_t batch) {
  // The features are the profiled next-token KL of each layer quantized alone, whatever metric
  // pruned and clustered: the objective is a KL, and on the built-in model the attention-output
  // error ranks one layer's pairs wrongly (layer 3: KV4 has 2.4x the output error of K8V4 but a
  // thousand times its KL, so a proxy on output error never spent 8 bits on its keys).
  constexpr ErrorMetric m = ErrorMetric::kKl;
  const Sensitivity& s = *C.s;
  const Clustering& c = *C.c;
  const size_t layers = static_cast<size_t>(s.model.layers);
  struct Candidate {
    std::vector<size_t> lp;
    double bytes, pred;
  };
  while (static_cast<int64_t>(C.run_trials.size()) < total) {
    std::vector<std::vector<double>> features;
    std::vector<double> kl;
    for (const Trial& t : C.run_trials) {
      features.push_back(cluster_features(s, c, m, t.layer_pairs));
      kl.push_back(t.kl);
    }
    const std::vector<double> w = fit_cluster_weights(features, kl);
    std::vector<Candidate> candidates;
    for (const auto& choice : refine_candidates(s, c, m, w)) {
      auto lp = expand_choice(c, choice, layers);
      if (C.seen.count(lp)) continue;
      const double bytes = C.objective->bytes_per_token(lp);
      if (C.budget > 0 && bytes > C.budget) continue;
      const auto f = cluster_features(s, c, m, lp);
      double pred = 0;
      for (size_t k = 0; k < f.size(); ++k) pred += w[k] * f[k];
      candidates.push_back({std::move(lp), bytes, pred});
    }
    std::vector<Point2> base;
    for (const auto& p : front_of(s, C.run_trials, C.budget)) base.push_back({p.bytes_per_token, p.kl});
    std::vector<bool> taken(candidates.size(), false);
    std::vector<std::vector<size_t>> picks;
    const int64_t want = std::min<int64_t>(batch, total - static_cast<int64_t>(C.run_trials.size()));
    while (static_cast<int64_t>(picks.size()) < want) {
      const double hv = hypervolume_2d(base, C.ref);
      // The candidate whose predicted point adds the most hypervolume. When none is predicted to
      // add any (the fit thinks the front is done), the one farthest in bytes from every evaluated
      // point among those predicted on the front, so the measurement tests the fit where it knows
      // least; when every candidate is predicted dominated, the one predicted closest to the front
      // (the smallest ratio of its KL to the front's at its bytes): the budget is spent either way.
      long best = -1, explore = -1, nearest = -1;
      double best_gain = 0, best_gap = -1, best_ratio = INFINITY;
      for (size_t i = 0; i < candidates.size(); ++i) {
        if (taken[i]) continue;
        const Candidate& x = candidates[i];
        auto with = base;
        with.push_back({x.bytes, x.pred});
        const double gain = hypervolume_2d(with, C.ref) - hv;
        if (gain > best_gain) best_gain = gain, best = static_cast<long>(i);
        double gap = INFINITY, stair = INFINITY;
        bool dominated = false;
        for (const auto& p : base) {
          gap = std::min(gap, std::abs(p.cost - x.bytes));
          if (p.cost <= x.bytes) stair = std::min(stair, p.error);
          dominated = dominated || dominates(p, Point2{x.bytes, x.pred});
        }
        if (!dominated && gap > best_gap) best_gap = gap, explore = static_cast<long>(i);
        const double ratio = stair > 0 ? x.pred / stair : INFINITY;
        if (nearest < 0 || ratio < best_ratio) best_ratio = ratio, nearest = static_cast<long>(i);
      }
      if (best < 0) best = explore;
      if (best < 0) best = nearest;
      if (best < 0) break;  // every configuration within the budget is picked or evaluated
      taken[static_cast<size_t>(best)] = true;
      picks.push_back(candidates[static_cast<size_t>(best)].lp);
      base.push_back({candidates[static_cast<size_t>(best)].bytes, candidates[static_cast<size_t>(best)].pred});
    }
    if (picks.empty()) break;
    evaluate_trials(C, picks);
  }
}

}  // namespace

std::vector<double> fit_cluster_weights(const std::vector<std::vector<double>>& features,
                                        const std::vector<double>& kl, double ridge) {
  KVMIX_CHECK(features.size() == kl.size(), "fit: {} feature rows for {} values", features.size(),
              kl.size());
  const size_t n = features.empty() ? 0 : features.front().size();
  // Rows a_i = features_i / kl_i: a perfect fit has a_i . w = 1 for every trial.
  std::vector<std::vector<double>> a;
  for (size_t i = 0; i < kl.size(); ++i) {
    KVMIX_CHECK(features[i].size() == n, "fit: feature rows of different lengths");
    if (!(kl[i] > 0) || !std::isfinite(kl[i])) continue;
    std::vector<double> r(n);
    for (size_t k = 0; k < n; ++k) r[k] = features[i][k] / kl[i];
    a.push_back(std::move(r));
  }
  // The common scale: least squares of sum_k a_ik * scale = 1.
  double num = 0, den = 0;
  for (const auto& r : a) {
    double sum = 0;
    for (double v : r) sum += v;
    num += sum;
    den += sum * sum;
  }
  const double scale = den > 0 ? num / den : 1.0;
  if (a.empty() || n == 0) return std::vector<double>(n, scale);
  // In units of the scale (u = w / scale): minimize |B u - 1|^2 + ridge |u - 1|^2 over u >= 0,
  // B = scale * A, by coordinate descent on the normal equations (convex, a handful of unknowns).
  std::vector<std::vector<double>> g(n, std::vector<double>(n, 0.0));
  std::vector<double> h(n, ridge);
  for (size_t k = 0; k < n; ++k) g[k][k] = ridge;
  for (const auto& r : a)
    for (size_t k = 0; k < n; ++k) {
      h[k] += scale * r[k];
      for (size_t j = 0; j < n; ++j) g[k][j] += scale * scale * r[k] * r[j];
    }
  std::vector<double> u(n, 1.0);
  for (int sweep = 0; sweep < 1000; ++sweep) {
    double moved = 0;
    for (size_t k = 0; k < n; ++k) {
      if (!(g[k][k] > 1e-300)) continue;  // a feature that is zero in every trial: keep u = 1
      double r = h[k];
      for (size_t j = 0; j < n; ++j)
        if (j != k) r -= g[k][j] * u[j];
      const double v = std::max(0.0, r / g[k][k]);
      moved = std::max(moved, std::abs(v - u[k]));
      u[k] = v;
    }
    if (moved < 1e-12) break;
  }
  for (double& v : u) v *= scale;
  return u;
}

std::vector<ProxyPoint> spread_seeds(const Sensitivity& s, const std::vector<ProxyPoint>& front,
                                     size_t n, double budget) {
  std::vector<ProxyPoint> in;
  for (const auto& p : front)
    if (budget <= 0 || static_cast<double>(p.bytes) / static_cast<double>(s.reference_tokens) <= budget)
      in.push_back(p);
  if (in.size() <= n) return in;
  // evenly spaced in bytes: for each target, the nearest unused point
  std::vector<ProxyPoint> out;
  std::vector<bool> used(in.size(), false);
  const double lo = static_cast<double>(in.front().bytes), hi = static_cast<double>(in.back().bytes);
  for (size_t i = 0; i < n; ++i) {
    const double target = n == 1 ? hi : lo + (hi - lo) * static_cast<double>(i) / static_cast<double>(n - 1);
    size_t best = 0;
    double bd = INFINITY;
    for (size_t j = 0; j < in.size(); ++j)
      if (!used[j] && std::abs(static_cast<double>(in[j].bytes) - target) < bd)
        bd = std::abs(static_cast<double>(in[j].bytes) - target), best = j;
    used[best] = true;
    out.push_back(in[best]);
  }
  std::sort(out.begin(), out.end(), [](const ProxyPoint& a, const ProxyPoint& b) { return a.bytes < b.bytes; });
  return out;
}

Front run_search(const Sensitivity& s, const Clustering& c, const Objective& objective,
                 const std::vector<ProxyPoint>& proxy_front, const SearchOptions& opt,
                 const std::atomic<bool>* stop, const nlohmann::json& run_identity) {
  KVMIX_CHECK(opt.population >= 8 && opt.population % 4 == 0,
              "search: the population must be a multiple of 4 and at least 8 (got {})", opt.population);
  Journal journal(opt.journal_path, run_identity, trial_space(s));
  const double fp_bytes = s.full_precision_bytes_per_token * static_cast<double>(s.model.layers);
  if (opt.budget_bytes_per_token > 0) {
    double min_bytes = 0;
    for (size_t k = 0; k < c.layers.size(); ++k) {
      double best = INFINITY;
      for (size_t p : c.candidates[k]) {
        double b = 0;
        for (size_t l : c.layers[k]) b += s.cells[l][p].bytes_per_token;
        best = std::min(best, b);
      }
      min_bytes += best;
    }
    KVMIX_CHECK(min_bytes <= opt.budget_bytes_per_token,
                "no configuration meets the budget of {:.1f} bytes per token: the smallest candidate "
                "costs {:.1f} ({:.3f} true bits per element)",
                opt.budget_bytes_per_token, min_bytes,
                8.0 * min_bytes / (2.0 * static_cast<double>(s.model.layers * s.model.kv_heads * s.model.head_dim)));
  }

  const int64_t total = opt.population * (1 + opt.generations);
  Progress progress(fmt::format("search ({})", search_method_option(opt.method)), total);
  auto ctx = std::make_shared<SearchContext>();
  ctx->s = &s;
  ctx->c = &c;
  ctx->objective = &objective;
  ctx->journal = &journal;
  ctx->stop = stop;
  ctx->budget = opt.budget_bytes_per_token;
  ctx->fp_bytes = fp_bytes;
  const bool proxy_seeded = opt.method == SearchMethod::kKvmix;
  ctx->origin = proxy_seeded ? "proxy-seed" : "random";
  // Reference point: full-precision bytes and the KL of the worst candidate everywhere would be
  // natural, but that costs an evaluation; the proxy front's own scale is not in KL units. Use a
  // fixed, documented box: bytes up to full precision, KL up to 1 nat per token.
  ctx->ref = {fp_bytes, 1.0};
  ctx->progress = &progress;

  Front f;
  f.method = search_method_name(opt.method);
  f.search = FrontSearchSettings{opt.seed, opt.population, opt.generations};
  f.sensitivity = s;
  f.sensitivity.cells.clear();
  f.budget_bytes_per_token = opt.budget_bytes_per_token;
  f.hv_reference = ctx->ref;
  try {
    if (proxy_seeded) {
      // The seeds are known at once: one batch whatever --batch says.
      std::vector<std::vector<size_t>> seeds;
      for (const auto& p : spread_seeds(s, proxy_front, static_cast<size_t>(opt.population),
                                        opt.budget_bytes_per_token))
        seeds.push_back(expand_choice(c, p.choice, static_cast<size_t>(s.model.layers)));
      evaluate_trials(*ctx, seeds);
      ctx->origin = "refine";
      refine(*ctx, total, opt.batch);
    } else {
      pagmo::problem prob{KvSearchProblem{ctx}};
      pagmo::population pop{prob, 0u, static_cast<unsigned>(opt.seed)};
      pagmo::detail::random_engine_type rng(static_cast<unsigned>(opt.seed));
      ctx->origin = "random";
      // The random population drawn first and evaluated as one batch.
      std::vector<pagmo::vector_double> xs;
      pagmo::vector_double dvs;
      for (int64_t i = 0; i < opt.population; ++i) {
        xs.push_back(pagmo::random_decision_vector(prob, rng));
        dvs.insert(dvs.end(), xs.back().begin(), xs.back().end());
      }
      const pagmo::vector_double fs = KvSearchProblem{ctx}.batch_fitness(dvs);
      for (size_t i = 0; i < xs.size(); ++i) pop.push_back(xs[i], pagmo::vector_double(fs.begin() + static_cast<long>(2 * i), fs.begin() + static_cast<long>(2 * i + 2)));
      ctx->origin = "nsga2";
      if (opt.generations > 0) {
        pagmo::nsga2 nsga2(static_cast<unsigned>(opt.generations), 0.95, 10.,
                           1.0 / static_cast<double>(std::max<size_t>(1, c.candidates.size())), 50.,
                           static_cast<unsigned>(opt.seed));
        nsga2.set_bfe(pagmo::bfe{pagmo::member_bfe{}});
        pagmo::algorithm algo{nsga2};
        pop = algo.evolve(pop);
      }
    }
  } catch (const SearchInterrupted&) {
    f.complete = false;
    spdlog::warn("search interrupted: {} evaluations are in {}", journal.trials().size(), journal.path());
  }
  progress.finish();
  f.points = front_of(s, ctx->run_trials, opt.budget_bytes_per_token);
  f.evaluations = static_cast<int64_t>(ctx->run_trials.size());
  f.hypervolume_curve = ctx->curve;
  return f;
}

}  // namespace kvmix
