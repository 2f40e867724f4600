// libFuzzer target: the policy study's journal reader (open_policy_journal, search/policy_journal.h)
// on arbitrary bytes, written to a file and opened as a resumed `kvmix policies` opens it, for a
// fixed study identity and fp16 cache size. Another study's header, a damaged line or a result that
// contradicts its meaning must be refused with a kvmix::Error; a crash, a sanitizer report or
// another exception escaping is a bug. A journal that opens must hold only results a table can
// print (every one passes the result check again, its numbers finite and in range), and must open
// again to the same results after the reader's repair of a torn last line.
// Crashes go to tests/fuzz/regressions/policy_journal/.
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "base/error.h"
#include "search/policy_journal.h"
#include "tests/fuzz/fuzz_input_file.h"
#include "tests/fuzz/fuzz_policy_study.h"
#include "tests/fuzz/fuzz_refused.h"


extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kvmix;
  const std::string path = fuzz::write_input_file("study.journal.jsonl", data, size);
  std::map<std::string, PolicyJournalEntry> done;
  try {
    done = open_policy_journal(path, fuzz::policy_study_identity(), fuzz::kPolicyFp16BytesPerToken);
  } catch (const Error& e) {
    return fuzz::refused(e);
  }
  for (const auto& [key, entry] : done) {
    const nlohmann::json run = nlohmann::json::parse(key);
    // What the study then prints: a result the check accepts again, finite in every number.
    check_policy_journal_result(run, entry.result, fuzz::kPolicyFp16BytesPerToken, entry.where);
    KVMIX_ASSERT(policy_result_journalable(entry.result), "{}: a result with a non-finite number", entry.where);
    const double score = entry.result.at("score").get<double>();
    if (entry.result.at("metric") == "exact_match")
      KVMIX_ASSERT(score >= 0 && score <= 1, "{}: exact match {}", entry.where, score);
    else
      KVMIX_ASSERT(score >= 1, "{}: perplexity {}", entry.where, score);
  }
  const auto again = open_policy_journal(path, fuzz::policy_study_identity(), fuzz::kPolicyFp16BytesPerToken);
  KVMIX_ASSERT(again.size() == done.size(), "the journal read differently the second time");
  for (const auto& [key, entry] : done)
    KVMIX_ASSERT(again.count(key) && again.at(key).result == entry.result, "the journal read differently the second time");
  return 0;
}
