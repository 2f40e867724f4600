#include "search/team_work.h"

#include <c10/util/Exception.h>

#include <map>

#include "base/error.h"
#include "lib/process/team.h"
#include "search/eval_run.h"
#include "search/objective.h"
#include "search/policy_study.h"
#include "search/profile.h"

namespace kvmix {
namespace {

// Message tags. Rank 0 sends items and the end of the job; the others send results or failures.
constexpr int kItemTag = 1, kResultTag = 3, kFailedTag = 4;  // kTeamEndTag (2): lib/process/team.h

std::string pack(const nlohmann::json& j) {
  const std::vector<uint8_t> bytes = nlohmann::json::to_cbor(j);
  return std::string(bytes.begin(), bytes.end());
}

nlohmann::json unpack(const std::string& bytes, int source) {
  try {
    return nlohmann::json::from_cbor(bytes);
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("rank {}: an unreadable message: {}", source, e.what()));
  }
}

std::string error_text(const std::exception& e) {
  if (const auto* t = dynamic_cast<const c10::Error*>(&e)) return t->what_without_backtrace();
  return e.what();
}

}  // namespace

std::string work_context_key(const std::string& kind, const nlohmann::json& context) {
  return kind + '\0' + pack(context);
}

nlohmann::json run_work_item(const Model& m, const Tokenizer& tok, const nlohmann::json& item, WorkCache& cache,
                             const std::atomic<bool>* stop) {
  const std::string kind = item.at("kind").get<std::string>();
  if (kind == "profile_layer") return profile_layer_work(m, item, cache);
  if (kind == "objective") return objective_work(m, tok, item, cache);
  if (kind == "eval") return eval_work(m, tok, item, cache, stop);
  if (kind == "policy_run") return policy_run_work(m, tok, item, cache, stop);
  throw Error(fmt::format("a work item of unknown kind '{}'", kind));
}

std::vector<nlohmann::json> share_work(const Model& m, const Tokenizer& tok, WorkCache& cache,
                                       const std::vector<nlohmann::json>& items,
                                       const std::atomic<bool>* stop, const WorkDone& on_done) {
  const size_t n = items.size();
  std::vector<nlohmann::json> results(n);
  auto halted = [&] { return stop && stop->load(); };
  auto done = [&](size_t i) {
    if (on_done) on_done(i, results[i]);
  };
  if (team().size == 1) {
    for (size_t i = 0; i < n && !halted(); ++i) {
      results[i] = run_work_item(m, tok, items[i], cache, stop);
      done(i);
    }
    return results;
  }
  KVMIX_CHECK(team().rank == 0, "share_work is rank 0's; rank {} called it", team().rank);
  std::vector<int> idle;
  for (int r = team().size - 1; r >= 1; --r) idle.push_back(r);
  std::map<int, size_t> running;  // rank -> item
  size_t next = 0;
  auto collect = [&] {
    int source = 0, tag = 0;
    const std::string bytes = team_receive(kAnyRank, &source, &tag);
    KVMIX_CHECK(running.count(source), "rank {} sent a message while computing nothing", source);
    if (tag == kFailedTag) throw Error(fmt::format("rank {}: {}", source, bytes));
    KVMIX_CHECK(tag == kResultTag, "rank {} sent a message with tag {}", source, tag);
    const nlohmann::json msg = unpack(bytes, source);
    const size_t i = running.at(source);
    KVMIX_CHECK(msg.at("index").get<size_t>() == i, "rank {} answered item {} for item {}", source,
                msg.at("index").dump(), i);
    results[i] = msg.at("result");
    running.erase(source);
    idle.push_back(source);
    done(i);
  };
  for (;;) {
    const bool halt = halted();
    while (!halt && next < n && !idle.empty()) {
      const int r = idle.back();
      idle.pop_back();
      team_send(r, kItemTag, pack({{"index", next}, {"item", items[next]}}));
      running[r] = next++;
    }
    while (!running.empty() && team_message_waiting(kAnyRank)) collect();
    if (!halt && next < n) {
      if (!idle.empty()) continue;
      // Every other rank is busy: rank 0 takes the next item itself.
      results[next] = run_work_item(m, tok, items[next], cache, stop);
      done(next++);
      continue;
    }
    if (running.empty()) break;
    collect();
  }
  return results;
}

int serve_team(const Model& m, const Tokenizer& tok) {
  WorkCache cache;
  for (;;) {
    int source = 0, tag = 0;
    const std::string bytes = team_receive(0, &source, &tag);
    if (tag == kTeamEndTag) return 0;
    KVMIX_CHECK(tag == kItemTag, "rank 0 sent a message with tag {}", tag);
    const nlohmann::json msg = unpack(bytes, source);
    nlohmann::json reply;
    try {
      reply = {{"index", msg.at("index")}, {"result", run_work_item(m, tok, msg.at("item"), cache)}};
    } catch (const std::exception& e) {
      // Rank 0 stops the job with this message; until then this rank waits like any other.
      team_send(0, kFailedTag, error_text(e));
      continue;
    }
    team_send(0, kResultTag, pack(reply));
  }
}

}  // namespace kvmix
