#include "lib/policies/policy_report.h"

#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "lib/io/gnuplot.h"
#include "lib/policies/score_intervals.h"

namespace kvmix {
namespace {

using nlohmann::json;

std::vector<std::string> task_names(const json& study) {
  std::vector<std::string> out;
  for (const auto& t : study.at("tasks")) out.push_back(t.at("name").get<std::string>());
  return out;
}

std::vector<std::string> policy_order(const json& study) {
  std::vector<std::string> out;
  for (const auto& r : study.at("results")) {
    const auto p = r.at("policy").get<std::string>();
    if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
  }
  return out;
}

bool is_ppl(const json& r) { return r.at("metric") == "perplexity"; }

// The score with its 95% interval (lib/policies/score_intervals.h) where the result carries the
// per-sample data (studies before the intervals do not: the score alone then).
std::string score_cell(const json& r, uint64_t seed) {
  const double score = r.at("score").get<double>();
  if (is_ppl(r)) {
    if (!r.contains("sample_nll") || r.at("sample_nll").empty()) return fmt::format("{:.3f}", score);
    const auto [lo, hi] = bootstrap_perplexity_interval(
        r.at("sample_nll").get<std::vector<double>>(),
        r.at("sample_tokens").get<std::vector<int64_t>>(), seed);
    return fmt::format("{:.3f} [{:.3f}, {:.3f}]", score, lo, hi);
  }
  if (!r.contains("samples")) return fmt::format("{:.1f}%", 100 * score);
  const int64_t n = r.at("samples").get<int64_t>();
  const int64_t k = std::llround(score * static_cast<double>(n));
  const auto [lo, hi] = wilson_interval(k, n);
  return fmt::format("{:.1f}% [{:.1f}, {:.1f}]", 100 * score, 100 * lo, 100 * hi);
}

}  // namespace

std::string policy_table(const json& study) {
  const auto tasks = task_names(study);
  const uint64_t seed = study.value("seed", uint64_t{0});
  // rows in first-seen order of (label, budget)
  std::vector<std::pair<std::string, double>> rows;
  std::map<std::pair<std::string, double>, std::map<std::string, json>> cell;
  for (const auto& r : study.at("results")) {
    const std::pair<std::string, double> key{r.at("label").get<std::string>(),
                                             r.at("budget").get<double>()};
    if (!cell.count(key)) rows.push_back(key);
    cell[key][r.at("task").get<std::string>()] = r;
  }
  std::string out = "| cache | family | budget | true bytes |";
  std::string sep = "|---|---|---:|---:|";
  for (const auto& t : tasks) {
    const auto& any = cell[rows.front()][t];
    out += fmt::format(" {} {} | {} KL |", t, !any.is_null() && is_ppl(any) ? "ppl" : "EM", t);
    sep += "---:|---:|";
  }
  out += "\n" + sep + "\n";
  for (const auto& key : rows) {
    const auto& by_task = cell[key];
    double bytes = 0;
    std::string family;
    for (const auto& [t, r] : by_task) {
      bytes += r.at("bytes_fraction").get<double>() / static_cast<double>(by_task.size());
      family = r.at("family").get<std::string>();
    }
    out += fmt::format("| {} | {} | {} | {:.1f}% |", key.first, family,
                       key.second > 0 ? fmt::format("{:.1f}%", 100 * key.second) : "-", 100 * bytes);
    for (const auto& t : tasks) {
      auto it = by_task.find(t);
      if (it == by_task.end()) {
        out += " | |";
        continue;
      }
      const auto& r = it->second;
      out += " " + score_cell(r, seed) + " |";
      out += fmt::format(" {:.4f} |", r.at("kl").get<double>());
    }
    out += "\n";
  }
  return out;
}

std::string policy_plot_data(const json& study) {
  std::string out;
  for (const auto& t : task_names(study))
    for (const auto& p : policy_order(study)) {
      std::vector<std::pair<double, double>> pts;
      for (const auto& r : study.at("results"))
        if (r.at("task") == t && r.at("policy") == p)
          pts.emplace_back(100 * r.at("bytes_fraction").get<double>(), r.at("score").get<double>());
      std::sort(pts.begin(), pts.end());
      // a control byte in a name (a task file's name) would end the comment and start data
      out += fmt::format("# task {} policy {}\n", escape_control_chars(t), escape_control_chars(p));
      for (const auto& [x, y] : pts) out += fmt::format("{:.4f} {:.6f}\n", x, y);
      out += "\n\n";
    }
  return out;
}

std::string policy_plot_script(const json& study, const std::string& data_file,
                               const std::string& png_file) {
  const auto tasks = task_names(study);
  const auto policies = policy_order(study);
  std::map<std::string, bool> ppl;
  for (const auto& r : study.at("results")) ppl[r.at("task").get<std::string>()] = is_ppl(r);
  const size_t n = std::max<size_t>(tasks.size(), 1);
  std::string s = fmt::format(
      "set terminal pngcairo size {},480 noenhanced\nset output {}\n"
      "set multiplot layout 1,{}\nset key outside bottom center horizontal maxrows 3 font ',8'\n"
      "set grid\nset xlabel 'true bytes (% of fp16)'\n",
      560 * n, gnuplot_path(png_file), n);
  for (size_t ti = 0; ti < tasks.size(); ++ti) {
    const auto& t = tasks[ti];
    s += fmt::format("set title {}\nset ylabel '{}'\n", gnuplot_quote(t), ppl[t] ? "perplexity" : "exact match");
    s += ppl[t] ? "set logscale y\n" : "unset logscale y\n";
    s += "plot ";
    for (size_t pi = 0; pi < policies.size(); ++pi) {
      const size_t block = ti * policies.size() + pi;
      s += fmt::format("{}{} index {} using 1:2 with linespoints title {}", pi ? ", " : "",
                       gnuplot_path(data_file), block, gnuplot_quote(policies[pi]));
    }
    s += "\n";
  }
  s += "unset multiplot\n";
  return s;
}

}  // namespace kvmix
