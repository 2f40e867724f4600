#include "search/nsga2_search.h"

#include <pagmo/algorithms/nsga2.hpp>
#include <pagmo/population.hpp>
#include <pagmo/problem.hpp>
#include <pagmo/utils/generic.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <set>

#include "lib/error.h"
#include "lib/progress.h"

namespace kvmix {
namespace {

struct SearchContext {
  const Sensitivity* s;
  const Clustering* c;
  const ObjectiveEvaluator* objective;
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

  pagmo::vector_double fitness(const pagmo::vector_double& x) const {
    auto& C = *ctx;
    const auto lp = decode(x);
    const Trial* t = C.journal->find(lp);
    if (!t) {
      if (C.stop && C.stop->load()) throw SearchInterrupted{};
      const auto t0 = std::chrono::steady_clock::now();
      const ObjectiveValue v = C.objective->evaluate(lp);
      Trial nt;
      nt.layer_pairs = lp;
      nt.bytes_per_token = v.bytes_per_token;
      nt.kl = v.kl;
      nt.origin = C.origin;
      nt.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      C.journal->append(nt);
      t = &C.journal->trials().back();
    }
    if (C.seen.insert(lp).second) {
      C.run_trials.push_back(*t);
      C.curve.push_back(front_hypervolume(front_of(*C.s, C.run_trials, C.budget), C.ref));
      C.progress->advance();
    }
    const double penalty = (C.budget > 0 && t->bytes_per_token > C.budget) ? 1e6 : 0.0;
    return {t->bytes_per_token / C.fp_bytes + penalty, t->kl + penalty};
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

// Decision vector (candidate index per cluster) of a proxy-front point.
pagmo::vector_double to_decision(const Clustering& c, const ProxyPoint& p) {
  pagmo::vector_double x;
  for (size_t k = 0; k < c.candidates.size(); ++k) {
    const auto& cand = c.candidates[k];
    const auto it = std::find(cand.begin(), cand.end(), p.choice.at(k));
    KVMIX_ASSERT(it != cand.end(), "proxy point chooses a pruned pair");
    x.push_back(static_cast<double>(it - cand.begin()));
  }
  return x;
}

}  // namespace

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

Front run_search(const Sensitivity& s, const Clustering& c, const ObjectiveEvaluator& objective,
                 const std::vector<ProxyPoint>& proxy_front, const SearchOptions& opt,
                 const std::atomic<bool>* stop, const nlohmann::json& run_identity) {
  KVMIX_CHECK(opt.population >= 8 && opt.population % 4 == 0,
              "search: the population must be a multiple of 4 and at least 8 (got {})", opt.population);
  KVMIX_CHECK(opt.method == "kvmix" || opt.method == "kvtuner",
              "search: unknown method '{}' (kvmix or kvtuner)", opt.method);
  Journal journal(opt.journal_path, run_identity);
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
  Progress progress(fmt::format("search ({})", opt.method), total);
  auto ctx = std::make_shared<SearchContext>();
  ctx->s = &s;
  ctx->c = &c;
  ctx->objective = &objective;
  ctx->journal = &journal;
  ctx->stop = stop;
  ctx->budget = opt.budget_bytes_per_token;
  ctx->fp_bytes = fp_bytes;
  ctx->origin = opt.method == "kvmix" ? "proxy-seed" : "random";
  // Reference point: full-precision bytes and the KL of the worst candidate everywhere would be
  // natural, but that costs an evaluation; the proxy front's own scale is not in KL units. Use a
  // fixed, documented box: bytes up to full precision, KL up to 1 nat per token.
  ctx->ref = {fp_bytes, 1.0};
  ctx->progress = &progress;

  Front f;
  f.method = opt.method == "kvmix" ? "kvmix" : "kvtuner-nsga2";
  f.sensitivity = s;
  f.sensitivity.cells.clear();
  f.budget_bytes_per_token = opt.budget_bytes_per_token;
  f.hv_reference = ctx->ref;
  try {
    pagmo::problem prob{KvSearchProblem{ctx}};
    pagmo::population pop{prob, 0u, static_cast<unsigned>(opt.seed)};
    pagmo::detail::random_engine_type rng(static_cast<unsigned>(opt.seed));
    if (opt.method == "kvmix")
      for (const auto& p : spread_seeds(s, proxy_front, static_cast<size_t>(opt.population), opt.budget_bytes_per_token))
        pop.push_back(to_decision(c, p));
    ctx->origin = "random";
    while (pop.size() < static_cast<pagmo::population::size_type>(opt.population))
      pop.push_back(pagmo::random_decision_vector(prob, rng));
    ctx->origin = "nsga2";
    if (opt.generations > 0) {
      pagmo::algorithm algo{pagmo::nsga2(static_cast<unsigned>(opt.generations), 0.95, 10.,
                                         1.0 / static_cast<double>(std::max<size_t>(1, c.candidates.size())),
                                         50., static_cast<unsigned>(opt.seed))};
      pop = algo.evolve(pop);
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
