#pragma once
// The policy study's journal (search/policy_study.h): its first line names the study (the model's
// identity), then one JSON line per finished (run, task), {"run": key, "result": {...}}, appended
// and fsynced as each finishes, so a killed study loses at most the runs in flight. Kept apart
// from the study, without torch, so that its reader, which reads a file from outside like every
// journal, has a fuzz target (tests/fuzz/fuzz_policy_journal.cpp).
#include <nlohmann/json.hpp>

#include <map>
#include <string>

namespace kvmix {

// A finished result read back, with the line it came from (for errors found when it is used).
struct PolicyJournalEntry {
  nlohmann::json result;
  std::string where;  // "path:line"
};

// Reads the finished results (keyed by the run key's dump()) of the journal at `path`, creating it
// with its header when missing. A header of another study, a malformed line or a result that fails
// check_policy_journal_result is a kvmix::Error naming the file, the line and the field. A torn
// last line (a kill mid-write) is cut off by the shared reader (lib/io/json_file.h), so its run is
// evaluated again.
std::map<std::string, PolicyJournalEntry> open_policy_journal(const std::string& path, const nlohmann::json& identity,
                                                              double fp16_bytes_per_token);

// A journaled result, checked against its meaning and its run key before a table prints it: the
// labels those of the key, every number finite and in range, an exact-match score a fraction of its
// samples in [0, 1], a perplexity exp(nll), the bytes fraction recomputed from the true bytes and
// the tokens at `fp16_bytes_per_token`. Errors name `where` (file and line) and the field.
void check_policy_journal_result(const nlohmann::json& key, const nlohmann::json& result,
                                 double fp16_bytes_per_token, const std::string& where);

// JSON writes NaN and infinity as null, which a replayed table could not print: such a result is
// not journaled, so a rerun evaluates it again instead of reading back a hole.
bool policy_result_journalable(const nlohmann::json& result);

}  // namespace kvmix
