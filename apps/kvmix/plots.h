#pragma once
// Pictures of a run, drawn by gnuplot (gnuplot-nox, installed by scripts/setup.sh) from a data file
// and a script written next to the PNG, so a plot can be redrawn or restyled by hand. When gnuplot
// is missing or fails, a warning says so and the run goes on: pictures never fail a job.
#include <string>

#include "search/front.h"
#include "search/sensitivity.h"

namespace kvmix::app {

// Layers x pairs, colour = log10 of the chosen per-cell error.
void plot_sensitivity_heatmap(const Sensitivity& s, ErrorMetric m, const std::string& png);

// Calibration KL against true bytes per token, one point per front member.
void plot_front(const Front& f, const std::string& png);

}  // namespace kvmix::app
