#include "apps/kvmix/plots.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "lib/atomic_file.h"

namespace kvmix::app {
namespace {

void run_gnuplot(const std::string& png, const std::string& data, const std::string& script) {
  write_file_atomic(png + ".dat", data);
  write_file_atomic(png + ".gp", script);
  if (std::system(("gnuplot '" + png + ".gp' 2>/dev/null").c_str()) != 0)
    spdlog::warn("gnuplot failed or is missing: {} not drawn (script {}.gp)", png, png);
}

}  // namespace

void plot_sensitivity_heatmap(const Sensitivity& s, ErrorMetric m, const std::string& png) {
  std::string data, xtics;
  for (size_t l = 0; l < s.cells.size(); ++l)
    for (size_t p = 0; p < s.pairs.size(); ++p)
      data += fmt::format("{} {} {:.6g}\n", p, l, std::log10(std::max(cell_error(s.cells[l][p], m), 1e-12)));
  for (size_t p = 0; p < s.pairs.size(); ++p)
    xtics += fmt::format("{}\"{}\" {}", p ? ", " : "", pair_name(s.pairs[p]), p);
  const std::string script = fmt::format(
      "set terminal pngcairo size 900,600 noenhanced\nset output '{}'\n"
      "set title 'log10 {} error when one layer alone is quantized ({})'\n"
      "set xlabel 'pair'\nset ylabel 'layer'\nset xtics ({})\nset ytics 1\n"
      "set xrange [-0.5:{}]\nset yrange [-0.5:{}]\nset cblabel 'log10 error'\nset view map\nplot '{}.dat' using 1:2:3 with image notitle\n",
      png, error_metric_name(m), scheme_name(s.scheme), xtics, static_cast<double>(s.pairs.size()) - 0.5,
      static_cast<double>(s.cells.size()) - 0.5, png);
  run_gnuplot(png, data, script);
}

void plot_front(const Front& f, const std::string& png) {
  std::string data;
  for (const auto& p : f.points) data += fmt::format("{} {:.6g}\n", p.bytes_per_token, std::max(p.kl, 1e-6));
  const std::string script = fmt::format(
      "set terminal pngcairo size 900,600 noenhanced\nset output '{}'\nset title 'Pareto front ({}, {} full evaluations)'\n"
      "set xlabel 'true bytes per token'\nset ylabel 'calibration KL (nats/token)'\nset logscale y\n"
      "plot '{}.dat' using 1:2 with linespoints title '{}'\n",
      png, f.method, f.evaluations, png, f.method);
  run_gnuplot(png, data, script);
}

}  // namespace kvmix::app
