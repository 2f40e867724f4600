#include "search/plots.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "base/error.h"
#include "lib/io/atomic_file.h"
#include "lib/io/gnuplot.h"

namespace kvmix {
namespace {

// Writes PNG.dat and PNG.gp (the script reads the data from PNG.dat) and draws.
bool draw(const std::string& png, const std::string& data, const std::string& script) {
  const std::string gp = png + ".gp";
  write_file_atomic(png + ".dat", data);
  write_file_atomic(gp, script);
  const std::string failure = plot_failure(run_gnuplot(gp), png, gp);
  if (!failure.empty()) spdlog::warn("{}", failure);
  return failure.empty();
}

}  // namespace

bool plot_sensitivity_heatmap(const Sensitivity& s, ErrorMetric m, const std::string& png) {
  std::string data, xtics;
  for (size_t l = 0; l < s.cells.size(); ++l)
    for (size_t p = 0; p < s.pairs.size(); ++p)
      data += fmt::format("{} {} {:.6g}\n", p, l, std::log10(std::max(cell_error(s.cells[l][p], m), 1e-12)));
  for (size_t p = 0; p < s.pairs.size(); ++p)
    xtics += fmt::format("{}{} {}", p ? ", " : "", gnuplot_quote(pair_name(s.pairs[p])), p);
  const std::string title = fmt::format("log10 {} error when one layer alone is quantized ({})",
                                        error_metric_name(m), scheme_name(s.scheme));
  const std::string script = fmt::format(
      "set terminal pngcairo size 900,600 noenhanced\nset output {}\n"
      "set title {}\n"
      "set xlabel 'pair'\nset ylabel 'layer'\nset xtics ({})\nset ytics 1\n"
      "set xrange [-0.5:{}]\nset yrange [-0.5:{}]\nset cblabel 'log10 error'\nset view map\nplot {} using 1:2:3 with image notitle\n",
      gnuplot_path(png), gnuplot_quote(title), xtics, static_cast<double>(s.pairs.size()) - 0.5,
      static_cast<double>(s.cells.size()) - 0.5, gnuplot_path(png + ".dat"));
  return draw(png, data, script);
}

bool plot_front(const Front& f, const std::string& png) {
  std::string data;
  for (const auto& p : f.points) data += fmt::format("{} {:.6g}\n", p.bytes_per_token, std::max(p.kl, 1e-6));
  const std::string title = fmt::format("Pareto front ({}, {} full evaluations)", f.method, f.evaluations);
  const std::string script = fmt::format(
      "set terminal pngcairo size 900,600 noenhanced\nset output {}\nset title {}\n"
      "set xlabel 'true bytes per token'\nset ylabel 'calibration KL (nats/token)'\nset logscale y\n"
      "plot {} using 1:2 with linespoints title {}\n",
      gnuplot_path(png), gnuplot_quote(title), gnuplot_path(png + ".dat"), gnuplot_quote(f.method));
  return draw(png, data, script);
}

std::string fronts_plot_data(const std::vector<Front>& fronts) {
  std::string data;
  for (const auto& f : fronts) {
    for (const auto& p : f.points) data += fmt::format("{} {}\n", p.bytes_per_token, std::max(p.kl, 1e-6));
    data += "\n\n";
  }
  return data;
}

std::string fronts_plot_script(const std::vector<Front>& fronts, const std::vector<std::string>& files,
                               const std::string& data_file, const std::string& png) {
  KVMIX_ASSERT(fronts.size() == files.size(), "one file name per front");
  std::string plot = "set terminal pngcairo size 900,600 noenhanced\nset output " + gnuplot_path(png) +
                     "\nset xlabel 'true bytes per token'\nset ylabel 'calibration KL (nats/token)'\n"
                     "set logscale y\nset key top right\nplot ";
  for (size_t i = 0; i < fronts.size(); ++i) {
    const std::string key = std::filesystem::path(files[i]).filename().string() + " (" + fronts[i].method + ")";
    plot += fmt::format("{}{} index {} with linespoints title {}", i ? ", " : "", gnuplot_path(data_file), i,
                        gnuplot_quote(key));
  }
  return plot + "\n";
}

}  // namespace kvmix
