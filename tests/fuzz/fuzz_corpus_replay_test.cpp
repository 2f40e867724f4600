// Replays the inputs of the fuzz targets of the other readers of outside files (the shard index,
// tokenizer.json and tokenizer_config.json, sensitivity.json, front.json, the search journal, the
// policy study's journal, KVTuner presets, user task files) through the same entry points in the
// ordinary test build, as fuzz_regressions_test.cpp and kv_config_corpus_test.cpp do for the
// first three targets:
//   tests/fuzz/corpus/TARGET/       seeds: valid inputs, each of which must load
//   tests/fuzz/regressions/TARGET/  inputs that once crashed a target (or hand-made attacks),
//                                   each of which must be refused with a kvmix::Error
// An input file is what the target is fed: for the journal, KVTuner and task-file targets its
// first byte selects the mode (tests/fuzz/fuzz_journal_space.h, fuzz_kvtuner_shapes.h,
// fuzz_task_file.cpp) and the rest is the file.
#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <functional>

#include "base/error.h"
#include "lib/export/kvtuner_yaml.h"
#include "lib/tokenizer/tokenizer.h"
#include "models/checkpoint_index.h"
#include "search/front.h"
#include "search/journal.h"
#include "search/policy_journal.h"
#include "search/sensitivity.h"
#include "search/task_data.h"
#include "tests/fuzz/fuzz_inputs.h"
#include "tests/fuzz/fuzz_journal_space.h"
#include "tests/fuzz/fuzz_kvtuner_shapes.h"
#include "tests/fuzz/fuzz_policy_study.h"
#include "tests/temp_dir.h"

using namespace kvmix;

namespace {

namespace fs = std::filesystem;

// Each target's entry point, fed one input file as the fuzz target feeds it.
void load_checkpoint_index(const fs::path& p) {
  test::TempDir dir;
  test::write_bytes(dir.file(kShardIndexFileName), test::read_bytes(p.string()));
  load_shard_index(dir.file(kShardIndexFileName));
}

void load_tokenizer(const fs::path& p) {
  Tokenizer::from_json(test::read_bytes(p.string()), p.string());
}

// tokenizer_config.json beside the tokenizer.json fuzz_tokenizer_config loads it with.
void load_tokenizer_config(const fs::path& p) {
  test::TempDir dir;
  const std::string fixture = "/tests/fixtures/tokenizer/byte_level_minimal/tokenizer.json";
  test::write_bytes(dir.file("tokenizer.json"),
                    test::read_bytes(std::string(KVMIX_SOURCE_DIR) + fixture));
  test::write_bytes(dir.file("tokenizer_config.json"), test::read_bytes(p.string()));
  Tokenizer::from_file(dir.file("tokenizer.json"));
}

void load_sensitivity_input(const fs::path& p) { load_sensitivity(p.string()); }

void load_front_input(const fs::path& p) { load_front(p.string()); }

void load_journal(const fs::path& p) {
  const std::string input = test::read_bytes(p.string());
  test::TempDir dir;  // the reader repairs a torn last line: it gets a copy
  test::write_bytes(dir.file("journal.jsonl"),
                    fuzz::journal_bytes(reinterpret_cast<const uint8_t*>(input.data()),
                                        input.size()));
  Journal(dir.file("journal.jsonl"), fuzz::journal_header(), fuzz::journal_space());
}

void load_policy_journal(const fs::path& p) {
  test::TempDir dir;  // the reader writes a header into an empty file and cuts a torn line: a copy
  test::write_bytes(dir.file("study.journal.jsonl"), test::read_bytes(p.string()));
  open_policy_journal(dir.file("study.journal.jsonl"), fuzz::policy_study_identity(), fuzz::kPolicyFp16BytesPerToken);
}

void load_kvtuner(const fs::path& p) {
  const std::string input = test::read_bytes(p.string());
  if (input.empty()) throw Error(p.string() + ": empty input (no selector byte)");
  const auto selector = static_cast<uint8_t>(input[0]);
  import_kvtuner(input.substr(1), p.string(), fuzz::kvtuner_scheme(selector),
                 fuzz::kvtuner_shape(selector));
}

void load_task_file(const fs::path& p) {
  static const Tokenizer tok =
      Tokenizer::from_file(std::string(KVMIX_SOURCE_DIR) + "/models/builtin/tokenizer.json");
  const std::string input = test::read_bytes(p.string());
  if (input.empty()) throw Error(p.string() + ": empty input (no selector byte)");
  test::TempDir dir;
  const std::string file = dir.file(input[0] & 1 ? "task.jsonl" : "task.txt");
  test::write_bytes(file, input.substr(1));
  TaskSpec spec = parse_task(file, Split::kHeldOut, /*samples=*/8);
  spec.text_window = 16;
  spec.text_context = 8;
  prepare_task(spec, tok);
}

struct ReplayTarget {
  const char* name;
  std::function<void(const fs::path&)> load;
};

const ReplayTarget kTargets[] = {
    {"checkpoint_index", load_checkpoint_index},
    {"tokenizer", load_tokenizer},
    {"tokenizer_config", load_tokenizer_config},
    {"sensitivity", load_sensitivity_input},
    {"front", load_front_input},
    {"journal", load_journal},
    {"policy_journal", load_policy_journal},
    {"kvtuner_yaml", load_kvtuner},
    {"task_file", load_task_file},
};

}  // namespace

TEST_CASE("fuzz seed corpora of the file readers load", "[fuzz]") {
  for (const ReplayTarget& t : kTargets) {
    const auto seeds = test::fuzz_inputs("corpus", t.name);
    INFO(t.name);
    CHECK(seeds.size() >= 2);
    for (const auto& p : seeds) {
      INFO(p);
      CHECK_NOTHROW(t.load(p));
    }
  }
}

TEST_CASE("fuzz regressions of the file readers are refused with a kvmix::Error", "[fuzz]") {
  for (const ReplayTarget& t : kTargets) {
    for (const auto& p : test::fuzz_inputs("regressions", t.name)) {
      INFO(p);
      CHECK_THROWS_AS(t.load(p), Error);
    }
  }
}
