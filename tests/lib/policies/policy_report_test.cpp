// The study reports: the table's rows and cells, the plot's data blocks and script.
#include <catch2/catch.hpp>

#include "lib/policies/policy_report.h"

using namespace kvmix;
using nlohmann::json;

namespace {

json result(const std::string& label, const std::string& policy, double budget,
            const std::string& task, double score, double bytes) {
  return {{"label", label}, {"policy", policy}, {"family", "eviction"}, {"budget", budget},
          {"task", task},   {"metric", task == "text" ? "perplexity" : "exact_match"},
          {"score", score}, {"kl", 0.5}, {"bytes_fraction", bytes}};
}

json study() {
  return {{"tasks", {{{"name", "recall"}, {"metric", "exact_match"}},
                     {{"name", "text"}, {"metric", "perplexity"}}}},
          {"results", {result("h2o 25%", "h2o", 0.25, "recall", 0.5, 0.24),
                       result("h2o 25%", "h2o", 0.25, "text", 12.0, 0.26),
                       result("h2o 12.5%", "h2o", 0.125, "recall", 0.25, 0.12),
                       result("h2o 12.5%", "h2o", 0.125, "text", 20.0, 0.12)}}};
}

}  // namespace

TEST_CASE("the policy table has one row per label and one column pair per task", "[policies]") {
  const auto t = policy_table(study());
  CHECK(t.find("| cache | family | budget | true bytes | recall EM | recall KL | text ppl | text KL |") !=
        std::string::npos);
  CHECK(t.find("| h2o 25% | eviction | 25.0% | 25.0% | 50.0% | 0.5000 | 12.000 | 0.5000 |") !=
        std::string::npos);
  CHECK(t.find("| h2o 12.5% | eviction | 12.5% | 12.0% | 25.0% |") != std::string::npos);
}

TEST_CASE("the plot data holds one block per task and policy, sorted by bytes", "[policies]") {
  const auto d = policy_plot_data(study());
  CHECK(d == "# task recall policy h2o\n12.0000 0.250000\n24.0000 0.500000\n\n\n"
             "# task text policy h2o\n12.0000 20.000000\n26.0000 12.000000\n\n\n");
  const auto s = policy_plot_script(study(), "p.dat", "p.png");
  CHECK(s.find("set output 'p.png'") != std::string::npos);
  CHECK(s.find("'p.dat' index 1 using 1:2 with linespoints title 'h2o'") != std::string::npos);
  CHECK(s.find("set logscale y") != std::string::npos);  // perplexity panel
}
