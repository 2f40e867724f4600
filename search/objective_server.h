#pragma once
// The search's objective offered to an external optimizer (Optuna's samplers, or any program that
// can write and read lines), with the model loaded once: `kvmix search --serve` (apps/kvmix/
// cmd_search.cpp). The protocol is JSON lines, one request and one reply per line:
//
//   kvmix -> optimizer, first:  {"protocol": "kvmix.objective", "version": 1, "clusters":
//                                [{"layers": [0, 1], "candidates": ["KV2", "K4V2", ...]}, ...],
//                                "space_size": N, "hypervolume_reference": [bytes, kl],
//                                "objectives": ["bytes_per_token", "kl"]}
//   optimizer -> kvmix:         {"choice": [i_0, ..., i_{K-1}], "id": ANY}   (one candidate
//                                position per cluster; "id" optional, echoed back)
//   kvmix -> optimizer:         {"id": ANY, "choice": [...], "pairs": ["K8V4", ...],
//                                "bytes_per_token": B, "true_bits": b, "kl": KL,
//                                "evaluated": true when this request ran the model (false: the
//                                journal or table already held it), "evaluations": distinct
//                                configurations answered so far in this session}
//
// Both objectives are minimized. A request that is not valid JSON, has unknown fields, or a
// position that is not an integer within its cluster's candidates gets {"error": "<stdin>:LINE:
// ..."} and nothing is evaluated; the server goes on reading. End of input ends the session.
// Evaluations go through the search journal when one is given (search/journal.h): a configuration
// asked for twice, or again in a later session of the same run, is answered from it.
#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdint>
#include <iosfwd>

#include "search/cluster.h"
#include "search/journal.h"
#include "search/objective.h"
#include "search/pareto.h"
#include "search/sensitivity.h"

namespace kvmix {

// Longest request line read, in bytes: a request names one small integer per cluster.
inline constexpr size_t kMaxObjectiveRequestBytes = size_t{1} << 16;

// The first line the server writes: the space the optimizer chooses in.
nlohmann::json objective_space_json(const Sensitivity& s, const Clustering& c, const Point2& hv_reference);

// Parses one request line against the clusters (positions per cluster); a kvmix::Error says what is
// wrong, prefixed with `where`. `id` receives the request's "id" (null when absent).
std::vector<size_t> parse_objective_request(const std::string& line, const Clustering& c,
                                            const std::string& where, nlohmann::json* id);

// Serves requests from `in` until its end (or until `stop` is set, checked before each evaluation:
// then Interrupted is thrown, the journal holding every finished evaluation). `journal` may be
// null (a table objective needs none). Returns the distinct configurations answered.
int64_t serve_objective(std::istream& in, std::ostream& out, const Sensitivity& s, const Clustering& c,
                        const Objective& objective, Journal* journal, const std::atomic<bool>* stop);

}  // namespace kvmix
