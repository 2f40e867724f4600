#include "search/exhaustive.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "base/error.h"
#include "lib/process/team.h"
#include "kvmix_version.h"
#include "lib/io/atomic_file.h"
#include "lib/io/json_describe.h"
#include "lib/io/json_file.h"
#include "lib/io/json_number.h"
#include "lib/process/progress.h"

namespace kvmix {
namespace {

constexpr const char* kSchema = "kvmix.exhaustive";
constexpr int64_t kVersion = 1;

// The hypervolume box of the search (search/front_search.cpp): full-precision bytes, KL 1 nat.
Point2 search_reference(const Sensitivity& s) {
  return {s.full_precision_bytes_per_token * static_cast<double>(s.model.layers), 1.0};
}

std::vector<Point2> trial_points(const std::vector<Trial>& trials) {
  std::vector<Point2> xy;
  for (const Trial& t : trials) xy.push_back({t.bytes_per_token, t.kl});
  return xy;
}

// The per-cluster position (index into the cluster's candidates) of a per-layer configuration.
std::vector<size_t> cluster_positions(const Clustering& c, const std::vector<size_t>& lp) {
  std::vector<size_t> pos;
  for (size_t k = 0; k < c.layers.size(); ++k) {
    const auto& cand = c.candidates[k];
    const size_t p = lp.at(c.layers[k].front());
    pos.push_back(static_cast<size_t>(std::find(cand.begin(), cand.end(), p) - cand.begin()));
  }
  return pos;
}

}  // namespace

int64_t exhaustive_space_size(const Clustering& c) {
  const double lg = log10_search_space(c);
  KVMIX_CHECK(lg <= kMaxExhaustiveLog10,
              "exhaustive evaluation: the space has 10^{:.2f} configurations, more than the 10^{:.0f} "
              "it enumerates (cluster the layers, or search instead)",
              lg, kMaxExhaustiveLog10);
  int64_t n = 1;
  for (const auto& cand : c.candidates) n *= static_cast<int64_t>(cand.size());
  return n;
}

ExhaustiveTable run_exhaustive(const Sensitivity& s, const Clustering& c, const Objective& objective,
                               const std::string& journal_path, const nlohmann::json& identity,
                               const std::atomic<bool>* stop, int jobs, bool progress) {
  KVMIX_CHECK(jobs >= 1, "exhaustive evaluation: {} jobs", jobs);
  ExhaustiveTable t;
  t.run = identity;
  t.clusters = c;
  t.space_size = exhaustive_space_size(c);
  t.hv_reference = search_reference(s);
  Journal journal(journal_path, identity, trial_space(s));
  const auto choices = all_choices(c);
  const size_t layers = static_cast<size_t>(s.model.layers);
  int64_t replayed = 0;
  for (const auto& choice : choices)
    if (journal.find(expand_choice(c, choice, layers))) ++replayed;
  // A journal of this identity holds only configurations of this space, since the identity names
  // everything the clustering depends on; anything else means the file was edited.
  KVMIX_CHECK(static_cast<int64_t>(journal.trials().size()) == replayed,
              "{}: {} trials, of which only {} are configurations of this space", journal_path,
              journal.trials().size(), replayed);
  if (replayed > 0)
    spdlog::info("exhaustive evaluation: {} of {} configurations replayed from {}", replayed,
                 t.space_size, journal_path);
  std::vector<std::vector<size_t>> todo;  // per-layer configurations still to evaluate, in order
  for (const auto& choice : choices) {
    auto lp = expand_choice(c, choice, layers);
    if (!journal.find(lp)) todo.push_back(std::move(lp));
  }
  Progress bar("exhaustive evaluation", static_cast<int64_t>(todo.size()), progress);
  // `jobs` workers take the next configuration in turn; the journal and the bar are shared, behind
  // one mutex. The objective is a pure function of the configuration, so the figures do not depend
  // on which worker computed them (nor the table on the order the journal received them).
  std::mutex mu;
  std::atomic<size_t> next{0};
  std::exception_ptr failure;
  auto work = [&] {
    while (!(stop && stop->load())) {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (failure) return;
      }
      const size_t i = next++;
      if (i >= todo.size()) return;
      try {
        const auto t0 = std::chrono::steady_clock::now();
        const ObjectiveValue v = objective.evaluate(todo[i]);
        Trial nt;
        nt.layer_pairs = todo[i];
        nt.bytes_per_token = v.bytes_per_token;
        nt.kl = v.kl;
        nt.origin = "exhaustive";
        nt.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::lock_guard<std::mutex> lock(mu);
        journal.append(std::move(nt));
        bar.advance();
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!failure) failure = std::current_exception();
        return;
      }
    }
  };
  if (team().size > 1) {
    // The ranks of an MPI job share the configurations (search/team_work.h); each is journaled as
    // it arrives.
    KVMIX_CHECK(jobs == 1, "exhaustive evaluation: --jobs {} under mpirun; the ranks share the work, one "
                "evaluation each", jobs);
    // In chunks: every item carries its samples, and a whole space's worth at once is needless.
    constexpr size_t kChunk = 64;
    for (size_t c0 = 0; c0 < todo.size() && !(stop && stop->load()); c0 += kChunk) {
      const std::vector<std::vector<size_t>> chunk(todo.begin() + static_cast<long>(c0),
                                                   todo.begin() + static_cast<long>(std::min(todo.size(), c0 + kChunk)));
      objective.evaluate_batch(chunk, stop, [&](size_t i, const ObjectiveValue& v) {
        Trial nt;
        nt.layer_pairs = chunk[i];
        nt.bytes_per_token = v.bytes_per_token;
        nt.kl = v.kl;
        nt.origin = "exhaustive";
        nt.seconds = v.seconds;
        journal.append(std::move(nt));
        bar.advance();
      });
    }
  } else {
    std::vector<std::thread> workers;
    for (int i = 1; i < jobs; ++i) workers.emplace_back(work);
    work();
    for (auto& w : workers) w.join();
    if (failure) std::rethrow_exception(failure);
  }
  bar.finish();
  for (const auto& choice : choices)
    if (const Trial* done = journal.find(expand_choice(c, choice, layers))) t.trials.push_back(*done);
  t.complete = static_cast<int64_t>(t.trials.size()) == t.space_size;
  return t;
}

std::vector<size_t> exhaustive_front(const ExhaustiveTable& t) {
  return pareto_indices(trial_points(t.trials));
}

double exhaustive_hypervolume(const ExhaustiveTable& t) {
  std::vector<Point2> front;
  for (size_t i : exhaustive_front(t)) front.push_back({t.trials[i].bytes_per_token, t.trials[i].kl});
  return hypervolume_2d(front, t.hv_reference);
}

nlohmann::json exhaustive_to_json(const Sensitivity& s, const ExhaustiveTable& t) {
  std::vector<std::string> pairs;
  for (const auto& p : s.pairs) pairs.push_back(pair_name(p));
  nlohmann::json clusters = nlohmann::json::array();
  for (size_t k = 0; k < t.clusters.layers.size(); ++k) {
    std::vector<std::string> cand;
    for (size_t p : t.clusters.candidates[k]) cand.push_back(pair_name(s.pairs.at(p)));
    clusters.push_back({{"layers", t.clusters.layers[k]}, {"candidates", cand}});
  }
  nlohmann::json configs = nlohmann::json::array();
  for (const Trial& tr : t.trials)
    configs.push_back({{"choice", cluster_positions(t.clusters, tr.layer_pairs)},
                       {"layer_pairs", tr.layer_pairs},
                       {"bytes_per_token", tr.bytes_per_token},
                       {"kl", tr.kl},
                       {"seconds", tr.seconds}});
  return {{"schema", kSchema},
          {"version", kVersion},
          {"producer", std::string("kvmix ") + KVMIX_VERSION},
          {"run", t.run},
          {"model_config_hash", s.model.config_hash},
          {"layers", s.model.layers},
          {"pairs", pairs},
          {"clusters", clusters},
          {"space_size", t.space_size},
          {"complete", t.complete},
          {"hypervolume_reference", {t.hv_reference.cost, t.hv_reference.error}},
          {"hypervolume", exhaustive_hypervolume(t)},
          {"front", exhaustive_front(t)},
          {"configurations", configs}};
}

ExhaustiveTable exhaustive_from_json(const nlohmann::json& j, const Sensitivity& s,
                                     const std::string& src) {
  auto field = [&](const nlohmann::json& o, const char* key, const std::string& where) -> const nlohmann::json& {
    KVMIX_CHECK(o.is_object(), "{}: {} must be an object, got {}", src, where, describe_json(o));
    KVMIX_CHECK(o.contains(key), "{}: {} has no field '{}'", src, where, key);
    return o[key];
  };
  auto named = [&](const std::string& f) { return src + ": field '" + f + "'"; };
  KVMIX_CHECK(j.is_object() && j.contains("schema") && j["schema"] == kSchema,
              "{}: not an exhaustive evaluation (schema {} expected)", src, kSchema);
  KVMIX_CHECK(json_integer(field(j, "version", "the file"), 1, 1000, named("version")) == kVersion,
              "{}: version {} is not the {} this kvmix reads", src, j["version"].dump(), kVersion);
  ExhaustiveTable t;
  t.run = field(j, "run", "the file");
  KVMIX_CHECK(t.run.is_object(), "{} must be an object", named("run"));
  const std::string hash = json_string(field(j, "model_config_hash", "the file"), named("model_config_hash"));
  KVMIX_CHECK(hash == s.model.config_hash, "{} is {}, but the profile's model is {}",
              named("model_config_hash"), hash, s.model.config_hash);
  const size_t layers = static_cast<size_t>(s.model.layers);
  KVMIX_CHECK(json_integer(field(j, "layers", "the file"), 1, 1 << 20, named("layers")) == s.model.layers,
              "{} is {}, but the model has {} layers", named("layers"), j["layers"].dump(), layers);
  const nlohmann::json& pairs = field(j, "pairs", "the file");
  KVMIX_CHECK(pairs.is_array() && pairs.size() == s.pairs.size(),
              "{} must list the profile's {} pairs, got {}", named("pairs"), s.pairs.size(), describe_json(pairs));
  std::map<std::string, size_t> pair_index;
  for (size_t p = 0; p < s.pairs.size(); ++p) {
    const std::string name = json_string(pairs[p], named(fmt::format("pairs[{}]", p)));
    KVMIX_CHECK(name == pair_name(s.pairs[p]), "{} is {}, but the profile's pair {} is {}",
                named(fmt::format("pairs[{}]", p)), name, p, pair_name(s.pairs[p]));
    pair_index[name] = p;
  }

  // The clusters: every layer in exactly one, candidates among the pairs, each once.
  const nlohmann::json& cl = field(j, "clusters", "the file");
  KVMIX_CHECK(cl.is_array() && !cl.empty() && cl.size() <= layers,
              "{} must list 1 to {} clusters, got {}", named("clusters"), layers, describe_json(cl));
  std::vector<int> owner(layers, -1);
  for (size_t k = 0; k < cl.size(); ++k) {
    const std::string where = fmt::format("clusters[{}]", k);
    const nlohmann::json& ls = field(cl[k], "layers", where);
    const nlohmann::json& cs = field(cl[k], "candidates", where);
    KVMIX_CHECK(ls.is_array() && !ls.empty() && ls.size() <= layers, "{} must list 1 to {} layers",
                named(where + ".layers"), layers);
    KVMIX_CHECK(cs.is_array() && !cs.empty() && cs.size() <= s.pairs.size(),
                "{} must list 1 to {} pairs", named(where + ".candidates"), s.pairs.size());
    std::vector<size_t> lv, cv;
    for (size_t i = 0; i < ls.size(); ++i) {
      const auto l = static_cast<size_t>(json_integer(ls[i], 0, static_cast<int64_t>(layers) - 1,
                                                      named(fmt::format("{}.layers[{}]", where, i))));
      KVMIX_CHECK(owner[l] < 0, "{}: layer {} is in clusters {} and {}", src, l, owner[l], k);
      owner[l] = static_cast<int>(k);
      lv.push_back(l);
    }
    for (size_t i = 0; i < cs.size(); ++i) {
      const std::string name = json_string(cs[i], named(fmt::format("{}.candidates[{}]", where, i)));
      KVMIX_CHECK(pair_index.count(name), "{} is {}, not one of the pairs", named(fmt::format("{}.candidates[{}]", where, i)), name);
      KVMIX_CHECK(std::find(cv.begin(), cv.end(), pair_index[name]) == cv.end(), "{}: pair {} is named twice",
                  named(where + ".candidates"), name);
      cv.push_back(pair_index[name]);
    }
    t.clusters.layers.push_back(std::move(lv));
    t.clusters.candidates.push_back(std::move(cv));
  }
  for (size_t l = 0; l < layers; ++l) KVMIX_CHECK(owner[l] >= 0, "{}: layer {} is in no cluster", src, l);
  try {
    t.space_size = exhaustive_space_size(t.clusters);
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", src, e.what()));
  }
  KVMIX_CHECK(json_integer(field(j, "space_size", "the file"), 1, t.space_size + 1, named("space_size")) == t.space_size,
              "{} is {}, but its clusters span {} configurations", named("space_size"), j["space_size"].dump(), t.space_size);
  const nlohmann::json& complete = field(j, "complete", "the file");
  KVMIX_CHECK(complete.is_boolean(), "{} must be true or false", named("complete"));
  t.complete = complete.get<bool>();

  const nlohmann::json& ref = field(j, "hypervolume_reference", "the file");
  KVMIX_CHECK(ref.is_array() && ref.size() == 2, "{} must be [bytes, kl]", named("hypervolume_reference"));
  t.hv_reference = search_reference(s);
  const double rb = json_number(ref[0], 0, HUGE_VAL, named("hypervolume_reference[0]"));
  const double rk = json_number(ref[1], 0, HUGE_VAL, named("hypervolume_reference[1]"));
  KVMIX_CHECK(same_up_to_rounding(rb, t.hv_reference.cost) && rk == t.hv_reference.error,
              "{} is [{}, {}], not the search's [{}, {}] (full-precision bytes, 1 nat)",
              named("hypervolume_reference"), rb, rk, t.hv_reference.cost, t.hv_reference.error);

  // Every configuration: within its clusters' candidates, once, bytes recomputed, KL finite >= 0.
  const nlohmann::json& configs = field(j, "configurations", "the file");
  KVMIX_CHECK(configs.is_array() && configs.size() <= static_cast<size_t>(t.space_size),
              "{} must list at most the {} configurations of the space, got {}", named("configurations"),
              t.space_size, describe_json(configs));
  const TrialSpace space = trial_space(s);
  std::set<std::vector<size_t>> seen;
  for (size_t i = 0; i < configs.size(); ++i) {
    const std::string where = fmt::format("configurations[{}]", i);
    const nlohmann::json& c = configs[i];
    const nlohmann::json& lp = field(c, "layer_pairs", where);
    KVMIX_CHECK(lp.is_array() && lp.size() == layers, "{} must list one pair index per layer ({})",
                named(where + ".layer_pairs"), layers);
    Trial tr;
    tr.id = static_cast<int64_t>(i);
    tr.origin = "exhaustive";
    double bytes = 0;
    for (size_t l = 0; l < layers; ++l) {
      const auto p = static_cast<size_t>(json_integer(lp[l], 0, static_cast<int64_t>(s.pairs.size()) - 1,
                                                      named(fmt::format("{}.layer_pairs[{}]", where, l))));
      tr.layer_pairs.push_back(p);
      bytes += space.layer_pair_bytes[l][p];
    }
    for (size_t k = 0; k < t.clusters.layers.size(); ++k) {
      const size_t p = tr.layer_pairs[t.clusters.layers[k].front()];
      const auto& cand = t.clusters.candidates[k];
      KVMIX_CHECK(std::find(cand.begin(), cand.end(), p) != cand.end(),
                  "{}: layer {} takes {}, not a candidate of its cluster", named(where + ".layer_pairs"),
                  t.clusters.layers[k].front(), pair_name(s.pairs[p]));
      for (size_t l : t.clusters.layers[k])
        KVMIX_CHECK(tr.layer_pairs[l] == p, "{}: layers {} and {} of one cluster take different pairs",
                    named(where + ".layer_pairs"), t.clusters.layers[k].front(), l);
    }
    KVMIX_CHECK(seen.insert(tr.layer_pairs).second, "{}: repeats an earlier configuration", named(where));
    tr.bytes_per_token = json_number(field(c, "bytes_per_token", where), 0, HUGE_VAL, named(where + ".bytes_per_token"));
    KVMIX_CHECK(same_up_to_rounding(tr.bytes_per_token, bytes), "{} is {}, but its pairs take {} true bytes per token",
                named(where + ".bytes_per_token"), tr.bytes_per_token, bytes);
    tr.bytes_per_token = bytes;
    tr.kl = json_number(field(c, "kl", where), 0, HUGE_VAL, named(where + ".kl"));
    if (c.contains("seconds")) tr.seconds = json_number(c["seconds"], 0, HUGE_VAL, named(where + ".seconds"));
    if (c.contains("choice")) {
      const auto pos = cluster_positions(t.clusters, tr.layer_pairs);
      KVMIX_CHECK(c["choice"].is_array() && c["choice"].size() == pos.size(),
                  "{} must list one position per cluster", named(where + ".choice"));
      for (size_t k = 0; k < pos.size(); ++k)
        KVMIX_CHECK(json_integer(c["choice"][k], 0, static_cast<int64_t>(s.pairs.size()),
                                 named(fmt::format("{}.choice[{}]", where, k))) == static_cast<int64_t>(pos[k]),
                    "{} is {}, but its layer pairs put cluster {} at candidate {}",
                    named(fmt::format("{}.choice[{}]", where, k)), c["choice"][k].dump(), k, pos[k]);
    }
    t.trials.push_back(std::move(tr));
  }
  KVMIX_CHECK(!t.complete || static_cast<int64_t>(t.trials.size()) == t.space_size,
              "{}: complete, but {} of the {} configurations are listed", src, t.trials.size(), t.space_size);

  // The front and its hypervolume are recomputed, never trusted.
  const std::vector<size_t> front = exhaustive_front(t);
  const nlohmann::json& jf = field(j, "front", "the file");
  KVMIX_CHECK(jf.is_array() && jf.size() == front.size(), "{} must list the {} non-dominated configurations, got {}",
              named("front"), front.size(), describe_json(jf));
  for (size_t i = 0; i < front.size(); ++i)
    KVMIX_CHECK(json_integer(jf[i], 0, static_cast<int64_t>(t.trials.size()), named(fmt::format("front[{}]", i))) ==
                    static_cast<int64_t>(front[i]),
                "{} is {}, but the non-dominated configuration {} by bytes is {}", named(fmt::format("front[{}]", i)),
                jf[i].dump(), i, front[i]);
  const double hv = json_number(field(j, "hypervolume", "the file"), 0, HUGE_VAL, named("hypervolume"));
  KVMIX_CHECK(same_up_to_rounding(hv, exhaustive_hypervolume(t)), "{} is {}, but its front's is {}",
              named("hypervolume"), hv, exhaustive_hypervolume(t));
  return t;
}

ExhaustiveTable load_exhaustive(const std::string& path, const Sensitivity& s) {
  return exhaustive_from_json(read_json_file(path), s, path);
}

void save_exhaustive(const Sensitivity& s, const ExhaustiveTable& t, const std::string& path) {
  write_file_atomic(path, exhaustive_to_json(s, t).dump(1) + "\n");
}

}  // namespace kvmix
