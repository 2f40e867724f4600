#pragma once
// A progress bar with an ETA on stderr. On a terminal it redraws one line; otherwise (logs, CI)
// it prints a line every 10% so a log shows how far a long job got.
#include <chrono>
#include <cstdint>
#include <string>

namespace kvmix {

class Progress {
 public:
  Progress(std::string label, int64_t total, bool enabled = true);
  ~Progress();
  void advance(int64_t n = 1);
  void set_note(std::string note) { note_ = std::move(note); }
  void finish();

 private:
  void draw(bool force);
  std::string label_, note_;
  int64_t total_, done_ = 0;
  bool enabled_, tty_, finished_ = false;
  int last_decile_ = -1;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// "1h02m", "3m05s", "12s"
std::string format_duration(double seconds);

}  // namespace kvmix
