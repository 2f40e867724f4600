#include "lib/process/progress.h"

#include <spdlog/fmt/fmt.h>
#include <unistd.h>

#include <cstdio>

namespace kvmix {

std::string format_duration(double s) {
  if (s < 0) s = 0;
  const int64_t t = static_cast<int64_t>(s + 0.5);
  if (t >= 3600) return fmt::format("{}h{:02}m", t / 3600, (t % 3600) / 60);
  if (t >= 60) return fmt::format("{}m{:02}s", t / 60, t % 60);
  return fmt::format("{}s", t);
}

Progress::Progress(std::string label, int64_t total, bool enabled)
    : label_(std::move(label)), total_(total > 0 ? total : 1), enabled_(enabled),
      tty_(::isatty(STDERR_FILENO) != 0), start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() { finish(); }

void Progress::advance(int64_t n) {
  done_ += n;
  draw(false);
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (!enabled_) return;
  done_ = std::max(done_, int64_t{0});
  draw(true);
  if (tty_) std::fputc('\n', stderr);
}

void Progress::draw(bool force) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double frac = std::min(1.0, static_cast<double>(done_) / static_cast<double>(total_));
  const double eta = done_ > 0 ? elapsed * (1.0 - frac) / frac : 0.0;
  const std::string tail = fmt::format("{}/{} {} elapsed, ETA {}{}{}", done_, total_,
                                       format_duration(elapsed), format_duration(eta),
                                       note_.empty() ? "" : "  ", note_);
  if (tty_) {
    if (!force && std::chrono::duration<double>(now - last_draw_).count() < 0.2) return;
    last_draw_ = now;
    const int width = 30, fill = static_cast<int>(frac * width);
    std::fprintf(stderr, "\r%s [%s%s] %s\033[K", label_.c_str(), std::string(fill, '#').c_str(),
                 std::string(width - fill, '.').c_str(), tail.c_str());
    std::fflush(stderr);
  } else {
    const int decile = static_cast<int>(frac * 10);
    if (!force && decile == last_decile_) return;
    if (force && decile == last_decile_ && done_ < total_) return;
    last_decile_ = decile;
    std::fprintf(stderr, "%s %3d%% %s\n", label_.c_str(), static_cast<int>(frac * 100), tail.c_str());
  }
}

}  // namespace kvmix
