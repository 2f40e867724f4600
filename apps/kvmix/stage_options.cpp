#include "apps/kvmix/stage_options.h"

#include <csignal>
#include <cmath>

#include "lib/kv_pair.h"
#include "search/search_method.h"
#include "search/sensitivity.h"
#include "search/task_data.h"

namespace kvmix::app {
namespace {

// A signal handler can only touch a lock-free atomic with static storage.
std::atomic<bool> g_stop{false};
// The first Ctrl-C asks the running stage to stop at its next checkpoint; a second one, for a user
// who will not wait, ends the process at once (the journal and checkpoints are already on disk).
extern "C" void on_sigint(int sig) {
  if (g_stop) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
  }
  g_stop = true;
}

// CLI11 validators return an empty string when the value is good, else the message.
CLI::Validator finite_at_least(double lo) {
  return CLI::Validator(
      [lo](std::string& s) -> std::string {
        double v = 0;
        try {
          size_t used = 0;
          v = std::stod(s, &used);
          if (used != s.size()) return "not a number: " + s;
        } catch (const std::exception&) {
          return "not a number: " + s;
        }
        if (!std::isfinite(v) || v < lo) return fmt::format("must be a finite number >= {}, not {}", lo, s);
        return "";
      },
      fmt::format("FLOAT >= {}", lo));
}

// Each item of a comma list must parse; an empty list ("") is refused rather than meaning nothing.
template <typename Parse>
CLI::Validator each_item(const char* what, Parse parse) {
  return CLI::Validator(
      [what, parse](std::string& s) -> std::string {
        if (s.empty()) return fmt::format("an empty {} name", what);
        try {
          parse(s);
        } catch (const std::exception& e) {
          return e.what();
        }
        return "";
      },
      what);
}

}  // namespace

const std::atomic<bool>& stop_on_sigint() {
  std::signal(SIGINT, on_sigint);
  std::signal(SIGTERM, on_sigint);
  return g_stop;
}

void add_profile_stage_options(CLI::App* sub, ProfileStageOptions& o) {
  sub->add_option("-s,--scheme", o.scheme, "kivi or per-token")
      ->check(CLI::IsMember({"kivi", "per-token"}))
      ->capture_default_str();
  sub->add_option("-p,--pairs", o.pairs, "Candidate pairs (default: {2,4,8} x {2,4,8})")
      ->delimiter(',')
      ->check(each_item("pair", [](const std::string& s) { (void)parse_pair(s); }));
  sub->add_option("--calib-tasks", o.calib_tasks, "Calibration tasks")
      ->delimiter(',')
      ->check(each_item("task", [](const std::string& s) { (void)parse_task(s, Split::kCalibration, 1); }))
      ->capture_default_str();
  sub->add_option("--calib-samples", o.calib_samples, "Calibration samples per task")
      ->check(CLI::Range(int64_t{1}, int64_t{100000}))
      ->capture_default_str();
}

void add_search_stage_options(CLI::App* sub, SearchStageOptions& o) {
  sub->add_option("--metric", o.metric, "Per-cell error: out, kl, attn, k, v")
      ->check(CLI::IsMember({"out", "kl", "attn", "k", "v"}))
      ->capture_default_str();
  sub->add_option("--cluster-threshold", o.cluster_threshold, "Layer merge distance (log10 error)")
      ->check(finite_at_least(0))
      ->capture_default_str();
  sub->add_option("--population", o.population,
                  "Population: NSGA-II's (kvtuner), kvmix's first proxy-front evaluations (multiple of 4, >= 8)")
      ->check(CLI::Validator(
          [](std::string& s) -> std::string {
            int64_t v = 0;
            try {
              v = std::stoll(s);
            } catch (const std::exception&) {
              return "not an integer: " + s;
            }
            return v >= 8 && v <= 4096 && v % 4 == 0 ? "" : "must be a multiple of 4 from 8 to 4096, not " + s;
          },
          "4k, 8..4096"))
      ->capture_default_str();
  sub->add_option("--generations", o.generations,
                  "Generations: NSGA-II's (kvtuner); kvmix spends the same population x (1 + generations) evaluations")
      ->check(CLI::Range(int64_t{0}, int64_t{100000}))
      ->capture_default_str();
  sub->add_option("--proposals", o.proposals,
                  "kvmix method: configurations proposed per round and evaluated together (with mpirun, on "
                  "several ranks at once; the front depends on this, not on the number of ranks)")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}))
      ->capture_default_str();
  sub->add_option("--budget-bits", o.budget_bits, "True bits per element at most (0: no budget)")
      ->check(finite_at_least(0) & CLI::Range(0.0, 64.0))
      ->capture_default_str();
  sub->add_option("--seed", o.seed, "Search seed")->capture_default_str();
  sub->add_option_function<std::string>(
         "--method", [&o](const std::string& m) { o.method = parse_search_method(m); },
         "kvmix (the proxy front, corrected as it measures) or kvtuner (random start: KVTuner's recipe, the baseline)")
      ->check(CLI::IsMember({"kvmix", "kvtuner"}))
      ->default_str(search_method_option(o.method));
}

}  // namespace kvmix::app
