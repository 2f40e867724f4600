// The policy study on a tiny random model and two tiny tasks (one scored by perplexity, one by
// generation), against oracles that do not go through the study: the run list written out by
// hand, the fp16 bytes of a token counted by hand, the fp16 baseline against a plain causal
// forward without a cache (teacher-forced NLL and greedy decoding), and the journal's promise: a
// rerun reads back instead of re-evaluating, and an interrupted study ends with the same results.
#include <ATen/ATen.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/error.h"
#include "lib/io/atomic_file.h"
#include "lib/rng.h"
#include "models/llama_forward.h"
#include "search/front.h"
#include "search/policy_study.h"
#include "tests/search/small_sensitivity.h"
#include "tests/models/random_model.h"
#include "tests/temp_dir.h"

using namespace kvmix;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;
using nlohmann::json;

namespace {

// fp32 throughout: the study's cached, batched, left-padded forward and the oracle's one-pass
// causal forward differ only in summation order, ~1e-6 relative per logit; log-probs of a 97-token
// vocabulary are O(5) nats, so 1e-4 nats is two orders of margin and far below any real error.
constexpr double kNllTol = 1e-4;
// A policy's bytes are checked against its budget after every step by the cache itself; the
// study's aggregate can exceed it only by the rounding of one double division.
constexpr double kBudgetSlack = 1e-12;
// A study resumed in the same process on the same inputs repeats the same float operations.
constexpr double kResumeTol = 1e-12;

// KIVI's per-token value groups are 32 channels wide, so heads of 32 rather than tiny_config's 16.
ModelConfig study_config() {
  ModelConfig c = test::tiny_config();
  c.head_dim = 32;
  return c;
}

// study_config: 3 layers x (K and V) x 2 KV heads x head_dim 32 x 2 bytes (fp16) per token.
constexpr int64_t kFp16BytesPerToken = 3 * 2 * 2 * 32 * 2;

const std::vector<std::string> kPolicyNames = {"streaming", "h2o",  "snapkv", "tova",   "knorm",
                                               "mikv",      "zipvl", "kvcrush", "vidkv"};

// 97 tokens, tiny_config's vocabulary: <unk>, <s>, </s>, then the 94 printable ASCII characters
// '!'..'~', so every id the model can generate decodes to text.
Tokenizer tiny_tokenizer() {
  json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}};
  for (int c = '!'; c <= '~'; ++c) vocab[std::string(1, static_cast<char>(c))] = 3 + (c - '!');
  const json model = {{"type", "BPE"}, {"unk_token", "<unk>"}, {"vocab", vocab},
                      {"merges", json::array()}};
  const json j = {{"added_tokens", json::array()}, {"normalizer", nullptr},
                  {"pre_tokenizer", nullptr},      {"post_processor", nullptr},
                  {"decoder", nullptr},            {"model", model}};
  return Tokenizer::from_json(j.dump(), "tiny tokenizer");
}

std::vector<int64_t> random_ids(Rng& rng, int64_t n) {
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < n; ++i) ids.push_back(rng.range(3, 96));
  return ids;
}

// Unequal lengths, so the study's batches of 2 are padded on both sides.
TaskData perplexity_task() {
  Rng rng(11);
  TaskData d;
  d.name = "tiny-text";
  const std::vector<std::pair<int64_t, int64_t>> lengths = {{20, 8}, {26, 6}, {23, 10}};
  for (const auto& [np, nc] : lengths) {
    d.prompts.push_back(random_ids(rng, np));
    d.continuations.push_back(random_ids(rng, nc));
  }
  return d;
}

// Greedy decoding by a plain causal forward over the whole sequence at every step (no cache).
std::vector<int64_t> oracle_greedy(const Model& m, const Tokenizer& tok, std::vector<int64_t> ids,
                                   int64_t new_tokens) {
  std::vector<int64_t> out;
  const auto eos = tok.eos_ids();
  for (int64_t i = 0; i < new_tokens; ++i) {
    const auto logits = forward(m, at::tensor(ids, at::kLong).unsqueeze(0), at::Tensor(), nullptr);
    const int64_t next = logits[0][-1].argmax().item<int64_t>();
    out.push_back(next);
    ids.push_back(next);
    if (std::find(eos.begin(), eos.end(), next) != eos.end()) break;
  }
  return out;
}

// Sample 0's answer is what the oracle generates, sample 1's cannot be generated (the tokenizer
// joins tokens with spaces, so no output is these three words): full precision scores exactly 1/2.
TaskData generation_task(const Model& m, const Tokenizer& tok) {
  Rng rng(12);
  TaskData d;
  d.name = "tiny-gen";
  d.generative = true;
  d.scoring = AnswerScoring::kExact;
  d.max_new_tokens = 3;
  for (int64_t np : {18, 22}) {
    d.prompts.push_back(random_ids(rng, np));
    d.continuations.push_back(random_ids(rng, 3));
  }
  d.answers = {tok.decode(oracle_greedy(m, tok, d.prompts[0], d.max_new_tokens), true),
               "no such answer"};
  return d;
}

// Mean teacher-forced NLL per continuation token from one cacheless forward per sample.
double oracle_nll(const Model& m, const TaskData& d) {
  double sum = 0;
  int64_t count = 0;
  for (size_t i = 0; i < d.prompts.size(); ++i) {
    std::vector<int64_t> ids = d.prompts[i];
    ids.insert(ids.end(), d.continuations[i].begin(), d.continuations[i].end());
    const auto lp = at::log_softmax(
        forward(m, at::tensor(ids, at::kLong).unsqueeze(0), at::Tensor(), nullptr)[0], -1);
    const int64_t np = static_cast<int64_t>(d.prompts[i].size());
    for (size_t j = 0; j < d.continuations[i].size(); ++j)
      sum -= lp[np - 1 + static_cast<int64_t>(j)][d.continuations[i][j]].item<double>();
    count += static_cast<int64_t>(d.continuations[i].size());
  }
  return sum / static_cast<double>(count);
}

struct Fixture {
  Model model = test::random_model(study_config());
  Tokenizer tok = tiny_tokenizer();
  std::vector<PolicyStudyTask> tasks;
  PolicyStudyOptions opt;

  Fixture() {
    tasks.push_back({perplexity_task(), Split::kHeldOut});
    tasks.push_back({generation_task(model, tok), Split::kHeldOut});
    opt.budgets = {0.25, 0.5};
    opt.kivi = {{4, 2}};
    opt.configs.push_back({"tiny-mixed",
                           {uniform_layers(Scheme::kKivi, {8, 4}, 1)[0],
                            uniform_layers(Scheme::kPerToken, {2, 2}, 1)[0],
                            uniform_layers(Scheme::kKivi, {4, 4}, 1)[0]},
                           "mixed"});
    opt.batch = 2;
    opt.progress = false;
  }
  json run() const { return run_policy_study(model, tok, tasks, opt); }
};

std::vector<std::string> lines_of(const std::string& path) {
  std::istringstream in(test::read_bytes(path));
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

void write_lines(const std::string& path, const std::vector<std::string>& lines, size_t n,
                 const std::string& tail) {
  std::string text;
  for (size_t i = 0; i < n; ++i) text += lines[i] + "\n";
  test::write_bytes(path, text + tail);
}

}  // namespace

TEST_CASE("policy study: one result per run and task, policies within budget, fp16 is a plain eval",
          "[search][policy_study]") {
  const Fixture f;
  const json study = f.run();
  CHECK(study.at("schema") == "kvmix.policies");
  CHECK(study.at("version") == 1);
  REQUIRE(study.at("tasks").size() == 2);
  CHECK(study.at("tasks")[0].at("metric") == "perplexity");
  CHECK(study.at("tasks")[1].at("metric") == "exact_match");
  CHECK(study.at("tasks")[1].at("split") == "heldout");

  // the runs, in order: fp16, each policy at each budget, KIVI, the config; each on both tasks
  std::vector<std::pair<std::string, double>> runs = {{"fp16", 0.0}};
  const std::vector<std::pair<std::string, double>> budgets = {{"25%", 0.25}, {"50%", 0.5}};
  for (const auto& p : kPolicyNames)
    for (const auto& [pct, b] : budgets) runs.push_back({p + " " + pct, b});
  runs.push_back({"kivi K4V2", 0.0});
  runs.push_back({"kvmix tiny-mixed", 0.0});
  const json& results = study.at("results");
  REQUIRE(results.size() == runs.size() * 2);
  for (size_t r = 0; r < runs.size(); ++r)
    for (size_t t = 0; t < 2; ++t) {
      const json& res = results[2 * r + t];
      INFO(res.dump());
      CHECK(res.at("label") == runs[r].first);
      CHECK(res.at("budget").get<double>() == runs[r].second);
      CHECK(res.at("task") == (t == 0 ? "tiny-text" : "tiny-gen"));
      CHECK(res.at("samples") == (t == 0 ? 3 : 2));
      // true bytes over the fp16 bytes of the same tokens, with the fp16 token counted by hand
      const int64_t tokens = res.at("tokens").get<int64_t>();
      const int64_t true_bytes = res.at("true_bytes").get<int64_t>();
      CHECK_THAT(res.at("bytes_fraction").get<double>(),
                 WithinRel(static_cast<double>(true_bytes) /
                               static_cast<double>(tokens * kFp16BytesPerToken),
                           kBudgetSlack));
      if (runs[r].second > 0)
        CHECK(res.at("bytes_fraction").get<double>() <= runs[r].second * (1 + kBudgetSlack));
      CHECK(std::isfinite(res.at("kl").get<double>()));
      // the per-sample data of the intervals: the summed NLL over the summed tokens is the mean
      // NLL the result reports; the 0/1 answers add up to its exact-match score
      const auto nlls = res.at("sample_nll").get<std::vector<double>>();
      const auto counts = res.at("sample_tokens").get<std::vector<int64_t>>();
      REQUIRE(nlls.size() == res.at("samples").get<size_t>());
      double sum = 0;
      int64_t count = 0;
      for (size_t i = 0; i < nlls.size(); ++i) sum += nlls[i], count += counts[i];
      CHECK_THAT(sum / static_cast<double>(count), WithinRel(res.at("nll").get<double>(), 1e-9));
      if (t == 1) {
        const auto correct = res.at("correct").get<std::vector<int>>();
        REQUIRE(correct.size() == 2);
        CHECK(static_cast<double>(correct[0] + correct[1]) / 2 == res.at("score").get<double>());
      }
    }

  const json& text = results[0];
  const json& gen = results[1];
  CHECK(text.at("family") == "reference");
  CHECK(text.at("true_bytes").get<int64_t>() ==
        text.at("tokens").get<int64_t>() * kFp16BytesPerToken);
  CHECK(text.at("kl").get<double>() == 0.0);
  const double nll = oracle_nll(f.model, f.tasks[0].data);
  CHECK_THAT(text.at("nll").get<double>(), WithinAbs(nll, kNllTol));
  CHECK_THAT(text.at("score").get<double>(), WithinRel(std::exp(nll), kNllTol));
  CHECK_THAT(gen.at("nll").get<double>(), WithinAbs(oracle_nll(f.model, f.tasks[1].data), kNllTol));
  CHECK(gen.at("score").get<double>() == 0.5);
}

TEST_CASE("policy study: a rerun reads its journal back instead of evaluating again",
          "[search][policy_study]") {
  Fixture f;
  test::TempDir dir;
  f.opt.journal_path = dir.file("study.journal.jsonl");
  const json first = f.run();
  const auto lines = lines_of(f.opt.journal_path);
  REQUIRE(lines.size() == 1 + first.at("results").size());  // header + one line per result

  const json again = f.run();
  CHECK(lines_of(f.opt.journal_path) == lines);
  CHECK(again.at("results") == first.at("results"));

  // A number planted in the journal comes back: the study read it, it did not recompute it. (A
  // consistent one: a perplexity is exp of the result's NLL, or the journal is refused.)
  json planted = json::parse(lines[5]);
  REQUIRE(planted["result"]["metric"] == "perplexity");
  planted["result"]["nll"] = std::log(12345.0);
  planted["result"]["score"] = std::exp(std::log(12345.0));
  auto edited = lines;
  edited[5] = planted.dump();
  write_lines(f.opt.journal_path, edited, edited.size(), "");
  CHECK_THAT(f.run().at("results")[4].at("score").get<double>(), WithinRel(12345.0, 1e-12));
}

TEST_CASE("policy study: a journaled result that contradicts its meaning is refused, naming the "
          "file, the line and the field",
          "[search][policy_study]") {
  Fixture f;
  f.opt.policies = {PolicyKind::kStreamingLlm};
  f.opt.budgets = {0.5};
  f.opt.kivi.clear();
  f.opt.configs.clear();
  test::TempDir dir;
  f.opt.journal_path = dir.file("study.journal.jsonl");
  f.run();
  const auto lines = lines_of(f.opt.journal_path);
  // Line 2: fp16 on tiny-text (perplexity, 3 samples); line 3: fp16 on tiny-gen (exact match, 2).
  REQUIRE(json::parse(lines[1])["result"]["metric"] == "perplexity");
  REQUIRE(json::parse(lines[2])["result"]["metric"] == "exact_match");
  struct Case {
    const char* what;
    size_t line;  // index into lines; the file's line number is one more
    const char* key;
    json value;
    const char* field;
  };
  const std::vector<Case> cases = {
      // The case: an exact-match score of 7.5 printed as 750.0%.
      {"exact-match score above 1", 2, "score", 7.5, "'result.score'"},
      {"exact-match score not a whole number of samples", 2, "score", 0.3, "'result.score'"},
      {"perplexity that is not exp(nll)", 1, "score", 12345.0, "'result.score'"},
      {"perplexity below 1", 1, "score", 0.5, "'result.score'"},
      {"negative NLL", 1, "nll", -1.0, "'result.nll'"},
      {"KL that was NaN", 1, "kl", nullptr, "'result.kl'"},
      {"bytes fraction that is not its bytes'", 1, "bytes_fraction", 0.01, "'result.bytes_fraction'"},
      {"a billion samples", 1, "samples", 1e9, "'result.samples'"},
      {"negative tokens", 1, "tokens", -4, "'result.tokens'"},
      {"an unknown metric", 1, "metric", "accuracy", "'result.metric'"},
      {"another run's label", 1, "label", "h2o 50%", "'result.label'"},
      {"a budget out of (0, 1]", 1, "budget", 3.0, "'result.budget'"},
      // Consistent with itself, but not with the task the key names.
      {"another sample count", 1, "samples", 5, "'result.samples'"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    json entry = json::parse(lines[c.line]);
    entry["result"][c.key] = c.value;
    auto edited = lines;
    edited[c.line] = entry.dump();
    write_lines(f.opt.journal_path, edited, edited.size(), "");
    CHECK_THROWS_WITH(f.run(), Catch::Contains(f.opt.journal_path + ":" + std::to_string(c.line + 1)) &&
                                   Catch::Contains(c.field));
  }
}

TEST_CASE("policy study: an interrupted study finishes with the results of an uninterrupted one",
          "[search][policy_study]") {
  Fixture f;
  const json full = f.run();
  test::TempDir dir;
  f.opt.journal_path = dir.file("study.journal.jsonl");
  f.run();
  const auto lines = lines_of(f.opt.journal_path);

  // Killed after the two fp16 results and three policy results, in the middle of writing the next
  // line: the resumed runs need the fp16 log-probs as the KL reference, which no journal holds.
  constexpr size_t kKept = 1 + 2 + 3;
  write_lines(f.opt.journal_path, lines, kKept, lines[kKept].substr(0, 40));
  const json resumed = f.run();
  const auto after = lines_of(f.opt.journal_path);
  REQUIRE(after.size() == lines.size());
  CHECK(std::vector<std::string>(after.begin(), after.begin() + kKept) ==
        std::vector<std::string>(lines.begin(), lines.begin() + kKept));
  for (const auto& l : after) CHECK_NOTHROW(json::parse(l));

  const json& a = full.at("results");
  const json& b = resumed.at("results");
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    INFO(a[i].dump() << "\n" << b[i].dump());
    CHECK(a[i].at("label") == b[i].at("label"));
    CHECK(a[i].at("task") == b[i].at("task"));
    CHECK(a[i].at("true_bytes") == b[i].at("true_bytes"));
    for (const char* k : {"score", "nll", "kl", "kl_p95", "bytes_fraction"})
      CHECK_THAT(b[i].at(k).get<double>(), WithinAbs(a[i].at(k).get<double>(), kResumeTol));
  }
}

TEST_CASE("policy study: another model's journal is refused, budgets must be fractions",
          "[search][policy_study]") {
  Fixture f;
  f.opt.policies = {PolicyKind::kStreamingLlm};
  f.opt.budgets = {0.5};
  f.opt.kivi.clear();
  f.opt.configs.clear();
  test::TempDir dir;
  f.opt.journal_path = dir.file("study.journal.jsonl");
  f.run();
  // same config, same source description: only the weights tell the models apart
  Fixture other;
  other.opt = f.opt;
  other.model = test::random_model(study_config(), 8);
  CHECK_THROWS_AS(other.run(), Error);

  // A header of the wrong types or version is refused naming the journal, not as a JSON type error.
  const std::string journal = f.opt.journal_path;
  std::string body;
  {
    std::ifstream in(journal);
    body.assign(std::istreambuf_iterator<char>(in), {});
  }
  const size_t eol = body.find('\n');
  const nlohmann::json header = nlohmann::json::parse(body.substr(0, eol));
  for (const auto& [field, value] : std::vector<std::pair<std::string, nlohmann::json>>{
           {"version", 1.5}, {"version", "1"}, {"journal", 5}}) {
    nlohmann::json h = header;
    h[field] = value;
    write_file_atomic(journal, h.dump() + body.substr(eol));
    CHECK_THROWS_WITH(f.run(), Catch::Contains(journal) && Catch::Contains("policy study journal"));
  }

  f.opt.journal_path.clear();
  for (double b : {0.0, -0.25, 1.5}) {
    f.opt.budgets = {b};
    CHECK_THROWS_AS(f.run(), Error);
  }
}

// --front: the config at each budget is the front point of lowest KL within it, chosen over every
// front given. Oracle: the hand-built front below, whose points' bytes set the budgets.
TEST_CASE("policy study: a front gives the lowest-KL config that fits each budget",
          "[search][policies]") {
  const Sensitivity s = test::small_sensitivity();
  // KV8 everywhere (the most bytes, the least KL), a mix, KV2 everywhere
  const std::vector<Trial> trials = {test::small_trial(s, 0, {0, 0, 0}, 0.001, "refine"),
                                     test::small_trial(s, 1, {0, 1, 2}, 0.02, "refine"),
                                     test::small_trial(s, 2, {3, 3, 3}, 0.4, "refine")};
  const Front f = test::small_front_of(s, trials);
  REQUIRE(f.points.size() == 3);
  test::TempDir dir;
  save_front(f, dir.file("front.json"));

  // fp16 bytes per token of the 3-layer model: 3 layers x (K and V) x 2 heads x 32 x 2 bytes
  const double fp16 = 3 * 2 * 2 * 32 * 2;
  const double kv2 = trials[2].bytes_per_token, mixed = trials[1].bytes_per_token,
               kv8 = trials[0].bytes_per_token;
  REQUIRE(kv2 < mixed);
  REQUIRE(mixed < kv8);
  const std::vector<double> budgets = {kv2 / fp16 / 2, (kv2 + mixed) / 2 / fp16, (mixed + kv8) / 2 / fp16, 1.0};
  const auto configs = front_budget_configs({dir.file("front.json")}, budgets, s.model);
  REQUIRE(configs.size() == 3);  // nothing fits half of KV2's bytes
  CHECK(configs[0].budget == budgets[1]);
  CHECK(configs[1].budget == budgets[2]);
  CHECK(configs[2].budget == 1.0);
  auto formats = [&](const std::vector<size_t>& lp) {
    std::vector<LayerKvFormat> out;
    for (size_t p : lp) out.push_back(pair_formats(s, p));
    return out;
  };
  CHECK((configs[0].config.layers == formats({3, 3, 3})));
  CHECK((configs[1].config.layers == formats({0, 1, 2})));
  CHECK((configs[2].config.layers == formats({0, 0, 0})));

  KvShape other = s.model;
  other.layers = 4;
  CHECK_THROWS_WITH(front_budget_configs({dir.file("front.json")}, budgets, other),
                    Catch::Contains(dir.file("front.json")));
}
