#pragma once
// Reports of a policy study (`kvmix policies`): the JSON it writes has
//   {"schema": "kvmix.policies", "version": 1, "tasks": [{"name", "metric"}...],
//    "results": [{"label", "policy", "family", "budget", "task", "metric", "score", "kl",
//                 "bytes_fraction", ...}...]}
// where bytes_fraction is the cache's true bytes over the fp16 bytes of the same tokens, and budget
// is the policy's budget fraction (0 for the baselines, which have none). These functions turn it
// into a Markdown table and a gnuplot plot (score against true bytes, one line per policy, one
// panel per task); they only build text, the command writes the files and runs gnuplot. Names and
// paths enter the script only through lib/io/gnuplot.h's quoting: a study file is input.
#include <nlohmann/json.hpp>

#include <string>

namespace kvmix {

// One row per label (a policy at one budget, or one baseline): per task the score with its 95%
// interval (Wilson for exact match, a bootstrap over the samples, seeded with the study's seed, for
// perplexity; lib/policies/score_intervals.h) and the KL, and the true bytes (% of fp16, mean over
// the tasks).
std::string policy_table(const nlohmann::json& study);

// Data for gnuplot: per task, per policy, an index block of "bytes_percent score" lines (sorted by
// bytes), blocks separated by two blank lines, each headed by a comment naming task and policy.
std::string policy_plot_data(const nlohmann::json& study);

// A gnuplot script that reads `data_file` and writes `png_file`: one panel per task, one line per
// policy, x = true bytes (% of fp16), y = the task's metric.
std::string policy_plot_script(const nlohmann::json& study, const std::string& data_file,
                               const std::string& png_file);

}  // namespace kvmix
