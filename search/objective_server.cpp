#include "search/objective_server.h"

#include <chrono>
#include <istream>
#include <ostream>
#include <set>

#include "base/error.h"
#include "lib/io/json_describe.h"
#include "lib/io/json_number.h"

namespace kvmix {

nlohmann::json objective_space_json(const Sensitivity& s, const Clustering& c, const Point2& ref) {
  nlohmann::json clusters = nlohmann::json::array();
  double size = 1;
  for (size_t k = 0; k < c.layers.size(); ++k) {
    std::vector<std::string> cand;
    for (size_t p : c.candidates[k]) cand.push_back(pair_name(s.pairs.at(p)));
    clusters.push_back({{"layers", c.layers[k]}, {"candidates", cand}});
    size *= static_cast<double>(cand.size());
  }
  return {{"protocol", "kvmix.objective"},
          {"version", 1},
          {"clusters", clusters},
          {"space_size", size},
          {"hypervolume_reference", {ref.cost, ref.error}},
          {"objectives", {"bytes_per_token", "kl"}}};
}

std::vector<size_t> parse_objective_request(const std::string& line, const Clustering& c,
                                            const std::string& where, nlohmann::json* id) {
  KVMIX_CHECK(line.size() <= kMaxObjectiveRequestBytes, "{}: a request of {} bytes (at most {})", where,
              line.size(), kMaxObjectiveRequestBytes);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: not JSON: {}", where, e.what()));
  }
  KVMIX_CHECK(j.is_object(), "{}: a request must be an object, got {}", where, describe_json(j));
  for (const auto& [key, value] : j.items())
    KVMIX_CHECK(key == "choice" || key == "id", "{}: unknown field '{}' (a request has 'choice' and 'id')",
                where, describe_json(key));
  KVMIX_CHECK(j.contains("choice"), "{}: field 'choice' is required", where);
  const nlohmann::json& ch = j["choice"];
  KVMIX_CHECK(ch.is_array() && ch.size() == c.layers.size(),
              "{}: field 'choice' must list one candidate position per cluster ({}), got {}", where,
              c.layers.size(), describe_json(ch));
  std::vector<size_t> pos;
  for (size_t k = 0; k < ch.size(); ++k)
    pos.push_back(static_cast<size_t>(json_integer(ch[k], 0, static_cast<int64_t>(c.candidates[k].size()) - 1,
                                                   fmt::format("{}: field 'choice[{}]'", where, k))));
  if (id) {
    *id = j.contains("id") ? j["id"] : nlohmann::json();
    KVMIX_CHECK(id->is_null() || id->is_string() || id->is_number_integer(),
                "{}: field 'id' must be a string or an integer, got {}", where, describe_json(*id));
  }
  return pos;
}

int64_t serve_objective(std::istream& in, std::ostream& out, const Sensitivity& s, const Clustering& c,
                        const Objective& objective, Journal* journal, const std::atomic<bool>* stop) {
  const size_t layers = static_cast<size_t>(s.model.layers);
  const double elems = 2.0 * static_cast<double>(s.model.layers * s.model.kv_heads * s.model.head_dim);
  const Point2 ref{s.full_precision_bytes_per_token * static_cast<double>(layers), 1.0};
  out << objective_space_json(s, c, ref).dump() << std::endl;
  std::set<std::vector<size_t>> answered;
  std::string line;
  for (int64_t lineno = 1; std::getline(in, line); ++lineno) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json reply;
    try {
      nlohmann::json id;
      const auto pos = parse_objective_request(line, c, fmt::format("<stdin>:{}", lineno), &id);
      std::vector<size_t> per_cluster;
      std::vector<std::string> names;
      for (size_t k = 0; k < pos.size(); ++k) {
        per_cluster.push_back(c.candidates[k][pos[k]]);
        names.push_back(pair_name(s.pairs.at(per_cluster.back())));
      }
      const auto lp = expand_choice(c, per_cluster, layers);
      const Trial* known = journal ? journal->find(lp) : nullptr;
      ObjectiveValue v;
      if (known) {
        v = ObjectiveValue{known->kl, known->bytes_per_token};
      } else {
        if (stop && stop->load()) throw Interrupted("the objective server stopped before an evaluation");
        const auto t0 = std::chrono::steady_clock::now();
        v = objective.evaluate(lp);
        if (journal) {
          Trial t;
          t.layer_pairs = lp;
          t.bytes_per_token = v.bytes_per_token;
          t.kl = v.kl;
          t.origin = "external";
          t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          journal->append(std::move(t));
        }
      }
      answered.insert(lp);
      reply = {{"id", id},
               {"choice", pos},
               {"pairs", names},
               {"bytes_per_token", v.bytes_per_token},
               {"true_bits", 8.0 * v.bytes_per_token / elems},
               {"kl", v.kl},
               {"evaluated", !known && journal},
               {"evaluations", answered.size()}};
    } catch (const Interrupted&) {
      throw;
    } catch (const Error& e) {
      reply = {{"error", e.what()}};
    }
    out << reply.dump() << std::endl;
  }
  return static_cast<int64_t>(answered.size());
}

}  // namespace kvmix
