#pragma once
// Work shared over the ranks of an MPI job (lib/process/team.h). A work item is a JSON object,
// {"kind": ..., "context": {...}, ...}, that holds everything its result depends on: the samples
// as token ids, the formats, the evaluation settings. Any rank computes an item with the same
// code (run_work_item), so a result does not depend on which rank computed it, nor on how many
// ranks there are; rank 0 puts the results back in item order.
//
// The kinds: "profile_layer" (search/profile.h: one calibration batch, one layer, every pair),
// "objective" (search/objective.h: the calibration KL of one configuration) and "eval"
// (search/eval_run.h: one config on one task). What a context costs to build (prepared batches,
// full-precision references) is built once per rank and kept in the rank's WorkCache.
#include <nlohmann/json.hpp>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <typeindex>
#include <vector>

#include "lib/tokenizer/tokenizer.h"
#include "models/model.h"

namespace kvmix {

// What a rank keeps between work items of one model: objects built from a context, keyed by the
// context's bytes. Whoever owns the model owns the cache (rank 0's evaluator or profile run, a
// worker's serve_team), so an entry never outlives the model it was built with. Thread-safe
// (`kvmix search --exhaustive --jobs` evaluates from several threads); the objects must be
// read-only once built.
class WorkCache {
 public:
  // The most recent few contexts.
  template <class T, class Make>
  std::shared_ptr<const T> get(const std::string& key, Make make) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& e : entries_)
      if (e.key == key && e.type == typeid(T)) return std::static_pointer_cast<const T>(e.value);
    std::shared_ptr<const T> v = std::make_shared<const T>(make());
    entries_.push_back({key, typeid(T), v});
    if (entries_.size() > kEntries) entries_.erase(entries_.begin());
    return v;
  }
  // One object per slot: a new key replaces the old object, freed before the new one is made (a
  // profile batch's activations: an 8B model's would not fit on a GPU several times over).
  template <class T, class Make>
  std::shared_ptr<const T> latest(const std::string& slot, const std::string& key, Make make) {
    std::lock_guard<std::mutex> lock(mu_);
    Entry& e = slots_[slot];
    if (e.key != key || e.type != typeid(T) || !e.value) {
      e.value.reset();
      e.value = std::make_shared<const T>(make());
      e.key = key;
      e.type = typeid(T);
    }
    return std::static_pointer_cast<const T>(e.value);
  }

 private:
  static constexpr size_t kEntries = 16;
  struct Entry {
    std::string key;
    std::type_index type = typeid(void);  // one key may name a context's several objects
    std::shared_ptr<const void> value;
  };
  std::mutex mu_;
  std::vector<Entry> entries_;
  std::map<std::string, Entry> slots_;
};

// The key of an item's context in the WorkCache: its kind and its bytes.
std::string work_context_key(const std::string& kind, const nlohmann::json& context);

// Computes one item on this rank. `stop` (may be null) lets a long item end early by throwing
// kvmix::Interrupted (an evaluation checks it before each batch).
nlohmann::json run_work_item(const Model& m, const Tokenizer& tok, const nlohmann::json& item, WorkCache& cache,
                             const std::atomic<bool>* stop = nullptr);

// Rank 0: computes `items` over the team, rank 0 included, and returns their results in item
// order. In a team of one, they run here one after another. When `stop` is set, no further item
// starts, the ones running finish, and the results of those never started are null. `on_done`
// (may be empty) is called on rank 0 with each item's index and result as it arrives.
using WorkDone = std::function<void(size_t index, const nlohmann::json& result)>;
std::vector<nlohmann::json> share_work(const Model& m, const Tokenizer& tok, WorkCache& cache,
                                       const std::vector<nlohmann::json>& items, const std::atomic<bool>* stop,
                                       const WorkDone& on_done = {});

// Ranks other than 0: computes the items rank 0 sends until it ends the job (release_team,
// lib/process/team.h); returns 0. An item
// that fails is reported to rank 0, which stops the job with the rank's message.
int serve_team(const Model& m, const Tokenizer& tok);

}  // namespace kvmix
