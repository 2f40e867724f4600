#include "search/policy_journal.h"

#include <spdlog/fmt/fmt.h>

#include <cmath>

#include "base/error.h"
#include "lib/io/atomic_file.h"  // append_line_synced
#include "lib/io/json_describe.h"
#include "lib/io/json_file.h"  // read_json_lines_for_append
#include "lib/io/json_header.h"
#include "lib/io/json_number.h"

namespace kvmix {
namespace {

using nlohmann::json;

constexpr const char* kJournalSchema = "kvmix.policies.journal";
constexpr int kJournalVersion = 1;

// Bounds of a journaled result's counts: far above any study (a held-out task has at most
// --samples samples), far below where a sum of them could overflow.
constexpr int64_t kMaxJournalSamples = 1000000;
constexpr int64_t kMaxJournalTokens = int64_t{1} << 40;
constexpr int64_t kMaxJournalBytes = int64_t{1} << 60;

}  // namespace

void check_policy_journal_result(const json& key, const json& r, double fp16_bytes_per_token,
                          const std::string& where) {
  KVMIX_CHECK(key.is_object() && r.is_object(),
              "{}: malformed journal entry (\"run\" and \"result\" must be objects)", where);
  auto at = [&](const json& o, const char* name, const char* k) -> const json& {
    KVMIX_CHECK(o.contains(k), "{}: field '{}.{}' is required", where, name, k);
    return o[k];
  };
  auto field = [&](const char* k) { return fmt::format("{}: field 'result.{}'", where, k); };
  for (const char* k : {"label", "task"})
    KVMIX_CHECK(json_string(at(r, "result", k), field(k)) ==
                    json_string(at(key, "run", k), fmt::format("{}: field 'run.{}'", where, k)),
                "{} is not the run's ({})", field(k), describe_json(key[k]));
  for (const char* k : {"policy", "family"}) (void)json_string(at(r, "result", k), field(k));
  const double budget = json_number(at(r, "result", "budget"), 0, 1, field("budget"));
  KVMIX_CHECK(budget == json_number(at(key, "run", "budget"), 0, 1,
                                    fmt::format("{}: field 'run.budget'", where)),
              "{} is not the run's", field("budget"));
  const std::string metric = json_string(at(r, "result", "metric"), field("metric"));
  const int64_t samples = json_integer(at(r, "result", "samples"), 1, kMaxJournalSamples,
                                       field("samples"));
  const double nll = json_number(at(r, "result", "nll"), 0, HUGE_VAL, field("nll"));
  (void)json_number(at(r, "result", "kl"), 0, HUGE_VAL, field("kl"));
  (void)json_number(at(r, "result", "kl_p95"), 0, HUGE_VAL, field("kl_p95"));
  if (metric == "exact_match") {
    // A rate of correct samples: k / samples for a whole k.
    const double score = json_number(at(r, "result", "score"), 0, 1, field("score"));
    const double correct = score * static_cast<double>(samples);
    KVMIX_CHECK(std::abs(correct - std::round(correct)) <= 1e-9 * static_cast<double>(samples),
                "{} is {}, not a whole number of {} samples", field("score"), score, samples);
  } else {
    KVMIX_CHECK(metric == "perplexity", "{} must be exact_match or perplexity, got {}",
                field("metric"), describe_json(r["metric"]));
    // exp of the mean NLL, which is >= 0: a perplexity is at least 1.
    const double score = json_number(at(r, "result", "score"), 1, HUGE_VAL, field("score"));
    KVMIX_CHECK(same_up_to_rounding(score, std::exp(nll)),
                "{} is {}, but the result's nll {} gives a perplexity of {}", field("score"), score,
                nll, std::exp(nll));
  }
  const int64_t tokens =
      json_integer(at(r, "result", "tokens"), 0, kMaxJournalTokens, field("tokens"));
  const int64_t bytes = json_integer(at(r, "result", "true_bytes"), 0, kMaxJournalBytes,
                                     field("true_bytes"));
  const double fraction = json_number(at(r, "result", "bytes_fraction"), 0, HUGE_VAL,
                                      field("bytes_fraction"));
  const double expected = tokens ? static_cast<double>(bytes) /
                                       (static_cast<double>(tokens) * fp16_bytes_per_token)
                                 : 0.0;
  KVMIX_CHECK(same_up_to_rounding(fraction, expected),
              "{} is {}, but {} true bytes for {} tokens are {} of the fp16 cache",
              field("bytes_fraction"), fraction, bytes, tokens, expected);
}

std::map<std::string, PolicyJournalEntry> open_policy_journal(const std::string& path, const json& identity,
                                                 double fp16_bytes_per_token) {
  const json header = {
      {"journal", kJournalSchema}, {"version", kJournalVersion}, {"study", identity}};
  std::map<std::string, PolicyJournalEntry> done;
  const std::vector<JsonLine> lines = read_json_lines_for_append(path);
  if (lines.empty()) {  // new, empty, or only its header was torn
    append_line_synced(path, header.dump());
    return done;
  }
  for (const JsonLine& l : lines) {
    const json& j = l.value;
    if (&l == &lines.front()) {
      check_json_header(j, "journal", kJournalSchema, kJournalVersion, path,
                        "a kvmix policy study journal");
      KVMIX_CHECK(j.contains("study") && j.at("study") == identity,
                  "{}: this journal belongs to another study (its header is {}; this study is {}). "
                  "Use another output prefix or delete the journal.",
                  path, j.value("study", nlohmann::json()).dump(), identity.dump());
      continue;
    }
    KVMIX_CHECK(j.is_object() && j.contains("run") && j.contains("result") &&
                    j.at("result").is_object(),
                "{}:{}: malformed journal entry (expected {{\"run\", \"result\"}})", path,
                l.lineno);
    const std::string where = fmt::format("{}:{}", path, l.lineno);
    check_policy_journal_result(j["run"], j["result"], fp16_bytes_per_token, where);
    done[j.at("run").dump()] = {j.at("result"), where};
  }
  return done;
}

bool policy_result_journalable(const json& result) {
  for (const char* f : {"score", "nll", "kl", "kl_p95", "bytes_fraction"})
    if (!std::isfinite(result.at(f).get<double>())) return false;
  return true;
}


}  // namespace kvmix
