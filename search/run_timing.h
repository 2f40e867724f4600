#pragma once
// Where the time of a run folder went, kept across reruns in timing.json (schema kvmix.timing,
// version 1): a stage read back on a rerun keeps the seconds it cost when computed, and a search
// that continues its journal adds each run's share.
#include <chrono>
#include <string>
#include <vector>

namespace kvmix {

double seconds_since(std::chrono::steady_clock::time_point t);

struct StageTime {
  std::string stage;
  double seconds = 0;   // compute spent on the stage, over every run of the folder
  bool recorded = true; // false: reused from a run that kept no timing.json
  bool reused = false;  // this run read the stage's output back instead of computing it
  bool resumed = false; // this run continued a journal: seconds include earlier runs' (not saved)
  bool partial = false; // an earlier run of the stage kept no timing.json: its seconds are missing
};

// How this run got a stage's output.
enum class StageRun {
  kRan,      // computed from scratch: this run's seconds replace any record
  kReused,   // read back: the recorded seconds stand
  kResumed,  // continued from a journal: this run's seconds add to the recorded ones
};

class RunTiming {
 public:
  // Reads `path` when it exists (an earlier run of the folder); stages are recorded into it.
  explicit RunTiming(std::string path);
  void record(const std::string& stage, double seconds, StageRun how);
  std::string markdown_table(double this_run_seconds) const;

 private:
  void save() const;
  std::string path_;
  std::vector<StageTime> before_;  // as the earlier run left them
  std::vector<StageTime> now_;     // this run's account, written after every stage
};

}  // namespace kvmix
