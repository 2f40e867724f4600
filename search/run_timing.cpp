#include "search/run_timing.h"

#include <cmath>
#include <filesystem>

#include "base/error.h"
#include "lib/io/atomic_file.h"
#include "lib/io/json_file.h"
#include "lib/io/json_header.h"

namespace fs = std::filesystem;

namespace kvmix {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

namespace {

constexpr const char* kTimingSchema = "kvmix.timing";

const StageTime* find_stage(const std::vector<StageTime>& v, const std::string& stage) {
  for (const auto& t : v)
    if (t.stage == stage) return &t;
  return nullptr;
}

}  // namespace

RunTiming::RunTiming(std::string path) : path_(std::move(path)) {
  if (!fs::exists(path_)) return;
  const nlohmann::json j = read_json_file(path_);
  try {
    check_json_header(j, "schema", kTimingSchema, 1, path_, "a kvmix timing file");
    for (const auto& e : j.at("stages")) {
      StageTime t;
      t.stage = e.at("stage").get<std::string>();
      t.recorded = !e.at("seconds").is_null();
      t.seconds = t.recorded ? e.at("seconds").get<double>() : 0.0;
      t.reused = e.value("reused", false);
      t.partial = e.value("partial", false);
      KVMIX_CHECK(std::isfinite(t.seconds) && t.seconds >= 0, "{}: stage '{}' has {} seconds", path_, t.stage,
                  t.seconds);
      before_.push_back(t);
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: malformed timing file: {}", path_, e.what()));
  }
}

void RunTiming::record(const std::string& stage, double seconds, StageRun how) {
  StageTime t;
  t.stage = stage;
  t.seconds = seconds;
  t.reused = how == StageRun::kReused;
  const StageTime* old = find_stage(before_, stage);
  if (how == StageRun::kReused) {
    t.seconds = old ? old->seconds : 0.0;
    t.recorded = old && old->recorded;
    t.partial = old && old->partial;
  } else if (how == StageRun::kResumed) {
    // A journal means an earlier run did part of the work, whether or not it left its time.
    t.resumed = true;
    t.partial = !old || !old->recorded || old->partial;
    if (old && old->recorded) t.seconds += old->seconds;
  }
  now_.push_back(t);
  save();
}

void RunTiming::save() const {
  nlohmann::json stages = nlohmann::json::array();
  auto add = [&](const StageTime& t) {
    stages.push_back({{"stage", t.stage},
                      {"seconds", t.recorded ? nlohmann::json(t.seconds) : nlohmann::json(nullptr)},
                      {"reused", t.reused},
                      {"partial", t.partial}});
  };
  for (const auto& t : now_) add(t);
  // Stages this run has not reached yet (interrupted, or still to come) keep their record, so a
  // later resume that reuses them still knows what they cost.
  for (const auto& t : before_)
    if (!find_stage(now_, t.stage)) add(t);
  write_file_atomic(path_, nlohmann::json{{"schema", kTimingSchema}, {"version", 1}, {"stages", stages}}.dump(2) + "\n");
}

std::string RunTiming::markdown_table(double this_run_seconds) const {
  std::string md = "| stage | seconds |\n|---|---:|\n";
  double total = 0;
  for (const auto& t : now_) {
    std::string mark = t.reused ? "reused" : t.resumed ? "resumed, earlier runs included" : "";
    if (t.partial) mark += "; an earlier run kept no time, so at least this";
    if (!mark.empty()) mark = " (" + mark + ")";
    if (t.recorded) {
      md += fmt::format("| {}{} | {:.1f} |\n", t.stage, mark, t.seconds);
      total += t.seconds;
    } else {
      md += fmt::format("| {}{} | not recorded |\n", t.stage, mark);
    }
  }
  md += fmt::format("| total of the stages | {:.1f} |\n", total);
  md += fmt::format("| this run (wall clock) | {:.1f} |\n", this_run_seconds);
  return md;
}

}  // namespace kvmix
