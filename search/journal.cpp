#include "search/journal.h"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "lib/atomic_file.h"
#include "lib/error.h"

namespace kvmix {

Journal::Journal(std::string path, nlohmann::json header) : path_(std::move(path)) {
  const nlohmann::json head = {{"journal", "kvmix.search"}, {"version", 1}, {"run", header}};
  if (!std::filesystem::exists(path_)) {
    append_line_synced(path_, head.dump());
    return;
  }
  const std::string text = read_file(path_);
  int64_t lineno = 0;
  size_t pos = 0, good_end = 0;  // good_end: just past the last line that parsed
  bool torn = false;
  while (pos < text.size()) {
    const size_t nl = text.find('\n', pos);
    const size_t next = nl == std::string::npos ? text.size() : nl + 1;
    const std::string line = text.substr(pos, next - pos - (nl == std::string::npos ? 0 : 1));
    pos = next;
    ++lineno;
    if (line.empty()) {
      good_end = next;
      continue;
    }
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception&) {
      // Only the last line can be torn (a crash during its write); anything earlier is corruption.
      if (next >= text.size()) {
        spdlog::warn("{}:{}: dropping a torn last line (interrupted write)", path_, lineno);
        torn = true;
        break;
      }
      throw Error(fmt::format("{}:{}: corrupt journal line", path_, lineno));
    }
    good_end = next;
    if (lineno == 1) {
      KVMIX_CHECK(j.value("journal", "") == "kvmix.search",
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
      throw Error(fmt::format("{}:{}: malformed trial: {}", path_, lineno, e.what()));
    }
  }
  KVMIX_CHECK(lineno >= 1, "{}: empty journal (delete it to start over)", path_);
  // The next append must start on a line of its own: cut a torn line off, end a complete last
  // line that lost only its newline.
  if (torn) {
    std::filesystem::resize_file(path_, good_end);
    if (good_end == 0) append_line_synced(path_, head.dump());  // the header itself was torn
  } else if (!text.empty() && text.back() != '\n') {
    append_line_synced(path_, "");
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
