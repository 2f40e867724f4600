// The tune pipeline (search/tune.h) end to end on the tiny byte-tokenizer model: a fresh run, a
// rerun that reuses every stage, a run killed during the search that resumes to the same front,
// an interrupted profile resumed from its checkpoint, and reruns with a changed model or option
// that refuse the stale stage (or recompute the cheap one) instead of reporting old results.
#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/error.h"
#include "lib/io/atomic_file.h"
#include "lib/io/dir_lock.h"
#include "lib/io/json_file.h"
#include "search/profile.h"
#include "search/tune.h"
#include "tests/search/byte_model.h"
#include "tests/temp_dir.h"

namespace fs = std::filesystem;

namespace kvmix {
namespace {

TuneOptions tiny_tune() {
  TuneOptions o;
  o.model_label = "tiny";
  o.profile.pairs = {"KV8", "KV4", "K4V2", "KV2"};
  o.profile.calib_tasks = {"arith"};
  o.profile.calib_samples = 2;
  o.search.population = 8;
  o.search.generations = 1;
  o.search.cluster_threshold = 0;  // every layer its own decision: room for 16 evaluations
  o.eval_tasks = {"arith"};
  o.eval_samples = 2;
  o.max_kl = 1e9;  // the fewest bytes: KV2 everywhere, if it is on the front
  return o;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> lines_of(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// A journal's trials without their wall times, which a rerun measures anew.
std::vector<nlohmann::json> trials_of(const std::string& path) {
  std::vector<nlohmann::json> out;
  for (const auto& l : lines_of(path)) {
    nlohmann::json j = nlohmann::json::parse(l);
    j.erase("seconds");
    out.push_back(j);
  }
  return out;
}

// front.json without what legitimately differs between runs (nothing should, but keep it honest:
// compare the points and the curve).
nlohmann::json front_points(const std::string& dir) {
  const nlohmann::json f = read_json_file(dir + "/front.json");
  return {f.at("points"), f.at("hypervolume_curve")};
}

struct Tiny {
  Model model = test::random_model(test::byte_model_config());
  const Tokenizer& tok = test::byte_tokenizer();
};

}  // namespace

TEST_CASE("tune: a fresh run, then a rerun that reuses every stage", "[search][tune]") {
  const Tiny t;
  test::TempDir dir;
  const std::string out = dir.file("run");
  const TuneOptions o = tiny_tune();
  const TuneResult first = run_tune(t.model, t.tok, o, out, nullptr);
  REQUIRE(first.complete);
  for (const char* f : {"sensitivity.json", "journal.jsonl", "front.json", "eval.json", "config.json",
                        "summary.md", "run.json", "timing.json"})
    CHECK(fs::exists(out + "/" + f));
  CHECK_FALSE(fs::exists(out + "/profile.checkpoint.json"));
  CHECK(first.chosen_pairs.size() == 3);
  const auto journal = lines_of(out + "/journal.jsonl");
  CHECK(journal.size() == 1 + 16);
  const std::string sens = slurp(out + "/sensitivity.json"), eval = slurp(out + "/eval.json");
  const std::string config = slurp(out + "/config.json");

  const TuneResult again = run_tune(t.model, t.tok, o, out, nullptr);
  REQUIRE(again.complete);
  CHECK(lines_of(out + "/journal.jsonl") == journal);  // nothing evaluated again
  CHECK(slurp(out + "/sensitivity.json") == sens);
  CHECK(slurp(out + "/eval.json") == eval);
  CHECK(slurp(out + "/config.json") == config);
  CHECK(again.chosen_pairs == first.chosen_pairs);
  CHECK(again.summary.find("| profile (reused) |") != std::string::npos);
  CHECK(again.summary.find("| held-out eval (reused) |") != std::string::npos);
}

TEST_CASE("tune: a run killed during the search resumes to the same front and choice", "[search][tune]") {
  const Tiny t;
  test::TempDir dir;
  const std::string full = dir.file("full"), cut = dir.file("cut");
  const TuneOptions o = tiny_tune();
  REQUIRE(run_tune(t.model, t.tok, o, full, nullptr).complete);

  // The killed run: profile done, 9 trials journaled and the 10th torn mid-line, nothing after.
  fs::create_directories(cut);
  for (const char* f : {"sensitivity.json", "run.json"}) fs::copy_file(full + "/" + f, cut + "/" + f);
  const auto journal = lines_of(full + "/journal.jsonl");
  std::string text;
  for (size_t i = 0; i < 10; ++i) text += journal[i] + "\n";
  write_file_atomic(cut + "/journal.jsonl", text + journal[10].substr(0, 15));
  // run.json also records the eval, which the killed run never reached: drop it.
  nlohmann::json run = read_json_file(cut + "/run.json");
  run["stages"].erase("eval");
  write_file_atomic(cut + "/run.json", run.dump());

  const TuneResult resumed = run_tune(t.model, t.tok, o, cut, nullptr);
  REQUIRE(resumed.complete);
  CHECK(trials_of(cut + "/journal.jsonl") == trials_of(full + "/journal.jsonl"));
  CHECK(front_points(cut) == front_points(full));
  CHECK(slurp(cut + "/config.json") == slurp(full + "/config.json"));
  CHECK(slurp(cut + "/eval.json") == slurp(full + "/eval.json"));

  // A stop request during the search keeps the journal and reports an incomplete run.
  const std::atomic<bool> stop{true};
  write_file_atomic(cut + "/journal.jsonl", text);
  const TuneResult stopped = run_tune(t.model, t.tok, o, cut, &stop);
  CHECK_FALSE(stopped.complete);
  CHECK(lines_of(cut + "/journal.jsonl").size() == 10);
}

TEST_CASE("profile: an interrupted profile resumes from its checkpoint to the same values",
          "[search][tune][profile]") {
  const Tiny t;
  test::TempDir dir;
  ProfileOptions po;
  po.pairs = {parse_pair("KV4"), parse_pair("KV2")};
  po.tasks = {parse_task("arith", Split::kCalibration, 3)};
  po.batch = 1;  // three batches of one sample: checkpoints after each
  po.max_continuation = 6;
  po.progress = false;
  po.checkpoint_path = dir.file("ck.json");
  po.checkpoint_key = "key-1";
  const Sensitivity whole = run_profile(t.model, t.tok, po);
  REQUIRE(fs::exists(po.checkpoint_path));

  // What a run stopped after its first batch had saved: one value per list, batches_done 1.
  nlohmann::json ck = read_json_file(po.checkpoint_path);
  REQUIRE(ck.at("batches_done") == 3);
  ck["batches_done"] = 1;
  for (auto& layer : ck["cells"])
    for (auto& cell : layer)
      for (auto& values : cell) values = nlohmann::json::array({values.at(0)});
  write_file_atomic(po.checkpoint_path, ck.dump());
  const Sensitivity resumed = run_profile(t.model, t.tok, po);
  CHECK(sensitivity_to_json(resumed) == sensitivity_to_json(whole));

  // A checkpoint of another run is refused, never mixed in.
  po.checkpoint_key = "key-2";
  CHECK_THROWS_WITH(run_profile(t.model, t.tok, po), Catch::Contains("profile checkpoint of another run"));

  // A stop request ends the profile with kvmix::Interrupted.
  const std::atomic<bool> stop{true};
  po.checkpoint_path.clear();
  po.stop = &stop;
  CHECK_THROWS_AS(run_profile(t.model, t.tok, po), Interrupted);
}

TEST_CASE("tune: a changed model or profile option refuses the stale profile, naming the change",
          "[search][tune]") {
  const Tiny t;
  test::TempDir dir;
  const std::string out = dir.file("run");
  const TuneOptions o = tiny_tune();
  REQUIRE(run_tune(t.model, t.tok, o, out, nullptr).complete);
  const std::string sens = slurp(out + "/sensitivity.json");

  TuneOptions pairs = o;
  pairs.profile.pairs = {"KV4", "KV8"};
  CHECK_THROWS_WITH(run_tune(t.model, t.tok, pairs, out, nullptr), Catch::Contains("\"pairs\": was"));
  TuneOptions scheme = o;
  scheme.profile.scheme = "per-token";
  CHECK_THROWS_WITH(run_tune(t.model, t.tok, scheme, out, nullptr), Catch::Contains("\"scheme\": was"));
  TuneOptions dtype = o;
  dtype.dtype = "bf16";
  CHECK_THROWS_WITH(run_tune(t.model, t.tok, dtype, out, nullptr), Catch::Contains("\"dtype\": was"));
  TuneOptions samples = o;
  samples.profile.calib_samples = 3;
  CHECK_THROWS_AS(run_tune(t.model, t.tok, samples, out, nullptr), UsageError);
  // Same config.json, other weights: the profile and the journal are the other model's.
  const Model other = test::random_model(test::byte_model_config(), 8);
  CHECK_THROWS_WITH(run_tune(other, t.tok, o, out, nullptr), Catch::Contains("\"weights\": was"));
  // A changed search option with the same profile: the journal is refused the same way.
  TuneOptions seed = o;
  seed.search.seed = 5;
  CHECK_THROWS_WITH(run_tune(t.model, t.tok, seed, out, nullptr), Catch::Contains("\"seed\": was"));
  CHECK(slurp(out + "/sensitivity.json") == sens);  // nothing was overwritten
  // A sensitivity.json with no record of its making (dropped in by hand) is refused too.
  fs::remove(out + "/run.json");
  CHECK_THROWS_WITH(run_tune(t.model, t.tok, o, out, nullptr), Catch::Contains("records nothing"));
  // A run.json of the wrong types or version is refused naming it, never a bare JSON type error.
  for (const char* bad : {R"({"schema": "kvmix.tune_run", "version": 1.5, "stages": {}})",
                          R"({"schema": 7, "version": 1, "stages": {}})", R"([1, 2])"}) {
    write_file_atomic(out + "/run.json", bad);
    CHECK_THROWS_WITH(run_tune(t.model, t.tok, o, out, nullptr),
                      Catch::Contains(out + "/run.json") && Catch::Contains("tune run record"));
  }
}

TEST_CASE("tune: a changed choice or eval option reruns the held-out eval, and config and summary follow",
          "[search][tune]") {
  const Tiny t;
  test::TempDir dir;
  const std::string out = dir.file("run");
  TuneOptions o = tiny_tune();
  const TuneResult cheapest = run_tune(t.model, t.tok, o, out, nullptr);
  REQUIRE(cheapest.complete);

  o.max_kl = 0;  // now the lowest-KL point
  const TuneResult best = run_tune(t.model, t.tok, o, out, nullptr);
  REQUIRE(best.complete);
  const nlohmann::json cfg = read_json_file(out + "/config.json");
  const nlohmann::json ev = read_json_file(out + "/eval.json");
  // The eval's tuned row is the new choice's: its bytes equal the chosen point's.
  bool found = false;
  for (const auto& r : ev.at("results"))
    if (r.at("config") == "kvmix tuned") {
      found = true;
      CHECK(r.at("bytes_per_token").get<double>() == Approx(best.chosen_bytes_per_token));
    }
  CHECK(found);
  CHECK(cfg.dump().find("calibration KL <= 0") != std::string::npos);
  if (best.chosen_pairs != cheapest.chosen_pairs)
    CHECK(best.summary.find("| held-out eval (reused) |") == std::string::npos);

  o.eval_tasks = {"recall"};
  const TuneResult recall = run_tune(t.model, t.tok, o, out, nullptr);
  REQUIRE(recall.complete);
  const nlohmann::json ev2 = read_json_file(out + "/eval.json");
  for (const auto& r : ev2.at("results")) CHECK(r.at("task") == "recall");
  CHECK(recall.summary.find("arith") == std::string::npos);
}

TEST_CASE("tune: one job per run folder at a time", "[search][tune]") {
  test::TempDir dir;
  const DirLock held(dir.path());
  CHECK_THROWS_WITH(DirLock(dir.path()), Catch::Contains("another kvmix job is writing this run folder"));
  const Tiny t;
  CHECK_THROWS_WITH(run_tune(t.model, t.tok, tiny_tune(), dir.path(), nullptr),
                    Catch::Contains("another kvmix job"));
}

}  // namespace kvmix
