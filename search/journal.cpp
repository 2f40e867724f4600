#include "search/journal.h"

#include <cmath>
#include <limits>

#include "base/error.h"
#include "lib/io/atomic_file.h"
#include "lib/io/json_describe.h"
#include "lib/io/json_file.h"
#include "lib/io/json_number.h"

namespace kvmix {
namespace {

// A trial read back, checked against the space its search ran in. `where` names the file and line.
Trial read_trial(const nlohmann::json& j, const TrialSpace& space, int64_t expected_id,
                 const std::string& where) {
  KVMIX_CHECK(j.is_object(), "{}: a trial must be an object, got {}", where, describe_json(j));
  auto field = [&](const char* key) -> const nlohmann::json& {
    KVMIX_CHECK(j.contains(key), "{}: field '{}' is required", where, key);
    return j[key];
  };
  auto named = [&](const char* key) { return fmt::format("{}: field '{}'", where, key); };
  Trial t;
  // Ids are appended in order from 0: a gap, a repeat or a reordering means the file was edited.
  t.id = json_integer(field("trial"), 0, std::numeric_limits<int64_t>::max(), named("trial"));
  KVMIX_CHECK(t.id == expected_id, "{} is {}, but trial {} comes next", named("trial"), t.id,
              expected_id);
  const nlohmann::json& lp = field("layer_pairs");
  const size_t layers = space.layer_pair_bytes.size();
  KVMIX_CHECK(lp.is_array() && lp.size() == layers,
              "{} must list one pair index per layer ({}), got {}", named("layer_pairs"), layers,
              describe_json(lp));
  // Bytes are a function of the configuration: recomputed from the layer pairs, never trusted.
  double bytes = 0;
  for (size_t l = 0; l < layers; ++l) {
    const auto& row = space.layer_pair_bytes[l];
    const int64_t p = json_integer(lp[l], 0, static_cast<int64_t>(row.size()) - 1,
                                   fmt::format("{}: field 'layer_pairs[{}]'", where, l));
    t.layer_pairs.push_back(static_cast<size_t>(p));
    bytes += row[static_cast<size_t>(p)];
  }
  t.bytes_per_token = json_number(field("bytes_per_token"), 0, HUGE_VAL, named("bytes_per_token"));
  KVMIX_CHECK(same_up_to_rounding(t.bytes_per_token, bytes),
              "{} is {}, but its layer pairs take {} true bytes per token",
              named("bytes_per_token"), t.bytes_per_token, bytes);
  t.bytes_per_token = bytes;
  t.kl = json_number(field("kl"), 0, HUGE_VAL, named("kl"));
  if (j.contains("origin")) {
    t.origin = json_string(j["origin"], named("origin"));
    KVMIX_CHECK(known_trial_origin(t.origin), "{} is {}, not one a search writes", named("origin"),
                describe_json(j["origin"]));
  }
  if (j.contains("seconds")) t.seconds = json_number(j["seconds"], 0, HUGE_VAL, named("seconds"));
  return t;
}

}  // namespace

TrialSpace trial_space(const Sensitivity& s) {
  TrialSpace space;
  for (const auto& row : s.cells) {
    space.layer_pair_bytes.emplace_back();
    for (const CellStats& c : row) space.layer_pair_bytes.back().push_back(c.bytes_per_token);
  }
  return space;
}

bool known_trial_origin(const std::string& o) {
  return o == "proxy-seed" || o == "refine" || o == "random" || o == "nsga2" || o == "exhaustive" ||
         o == "external";
}

Journal::Journal(std::string path, nlohmann::json header, TrialSpace space)
    : path_(std::move(path)) {
  const nlohmann::json head = {{"journal", "kvmix.search"}, {"version", 1}, {"run", header}};
  const std::vector<JsonLine> lines = read_json_lines_for_append(path_);
  if (lines.empty()) {  // new, empty, or only its header was torn
    append_line_synced(path_, head.dump());
    return;
  }
  for (const JsonLine& l : lines) {
    const nlohmann::json& j = l.value;
    if (&l == &lines.front()) {
      KVMIX_CHECK(j.is_object() && j.contains("journal") && j["journal"] == "kvmix.search",
                  "{}: not a kvmix search journal", path_);
      KVMIX_CHECK(j.contains("run") && j["run"] == header,
                  "{}: this journal belongs to another run (its header is {}; this run is {}). Use "
                  "another output folder or delete the journal.",
                  path_, j.contains("run") ? j["run"].dump() : "missing", header.dump());
      continue;
    }
    try {
      const std::string where = fmt::format("{}:{}", path_, l.lineno);
      Trial t = read_trial(j, space, static_cast<int64_t>(trials_.size()), where);
      KVMIX_CHECK(!index_.count(t.layer_pairs),
                  "{}: trial {} repeats the configuration of trial {}", where, t.id,
                  trials_[index_.at(t.layer_pairs)].id);
      index_[t.layer_pairs] = trials_.size();
      trials_.push_back(std::move(t));
    } catch (const nlohmann::json::exception& e) {
      throw Error(fmt::format("{}:{}: malformed trial: {}", path_, l.lineno, e.what()));
    }
  }
}

const Trial* Journal::find(const std::vector<size_t>& layer_pairs) const {
  auto it = index_.find(layer_pairs);
  return it == index_.end() ? nullptr : &trials_[it->second];
}

void Journal::append(Trial t) {
  t.id = static_cast<int64_t>(trials_.size());
  const nlohmann::json j = {{"trial", t.id},          {"layer_pairs", t.layer_pairs},
                            {"bytes_per_token", t.bytes_per_token}, {"kl", t.kl},
                            {"origin", t.origin},     {"seconds", t.seconds}};
  append_line_synced(path_, j.dump());
  index_[t.layer_pairs] = trials_.size();
  trials_.push_back(std::move(t));
}

}  // namespace kvmix
