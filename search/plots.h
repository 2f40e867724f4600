#pragma once
// Pictures of a run, drawn by gnuplot (gnuplot-nox, installed by scripts/setup.sh) from a data file
// and a script written next to the PNG, so a plot can be redrawn or restyled by hand. When gnuplot
// is missing or fails, a warning names the PNG and quotes gnuplot's error, and the run goes on:
// pictures never fail a job. Names from input files (a front's method, a front file's name) and
// paths reach the scripts only through lib/io/gnuplot.h's quoting.
#include <string>
#include <vector>

#include "search/front.h"
#include "search/sensitivity.h"

namespace kvmix {

// Layers x pairs, colour = log10 of the chosen per-cell error. Returns whether it was drawn.
bool plot_sensitivity_heatmap(const Sensitivity& s, ErrorMetric m, const std::string& png);

// Calibration KL against true bytes per token, one point per front member. Returns whether it was
// drawn.
bool plot_front(const Front& f, const std::string& png);

// `kvmix compare --plot`: every front on one plot. The data holds one index block per front, in
// order; the script reads it from `data_file`, keys each line "FILE (METHOD)" with FILE the front
// file's name, and writes `png`. Only text: the command writes and draws them, since for it a plot
// that fails is an error, not a warning.
std::string fronts_plot_data(const std::vector<Front>& fronts);
std::string fronts_plot_script(const std::vector<Front>& fronts, const std::vector<std::string>& files,
                               const std::string& data_file, const std::string& png);

}  // namespace kvmix
