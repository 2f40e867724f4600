#include "search/journal.h"

#include "lib/atomic_file.h"
#include "lib/error.h"
#include "lib/json_file.h"

namespace kvmix {

Journal::Journal(std::string path, nlohmann::json header) : path_(std::move(path)) {
  const nlohmann::json head = {{"journal", "kvmix.search"}, {"version", 1}, {"run", header}};
  const std::vector<JsonLine> lines = read_json_lines_for_append(path_);
  if (lines.empty()) {  // new, empty, or only its header was torn
    append_line_synced(path_, head.dump());
    return;
  }
  for (const JsonLine& l : lines) {
    const nlohmann::json& j = l.value;
    if (&l == &lines.front()) {
      KVMIX_CHECK(j.is_object() && j.value("journal", "") == "kvmix.search",
                  "{}: not a kvmix search journal", path_);
      KVMIX_CHECK(j.at("run") == header,
                  "{}: this journal belongs to another run (its header is {}; this run is {}). Use "
                  "another output folder or delete the journal.",
                  path_, j.at("run").dump(), header.dump());
      continue;
    }
    try {
      Trial t;
      t.id = j.at("trial").get<int64_t>();
      t.layer_pairs = j.at("layer_pairs").get<std::vector<size_t>>();
      t.bytes_per_token = j.at("bytes_per_token").get<double>();
      t.kl = j.at("kl").get<double>();
      t.origin = j.value("origin", "");
      t.seconds = j.value("seconds", 0.0);
      index_[t.layer_pairs] = trials_.size();
      trials_.push_back(t);
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
