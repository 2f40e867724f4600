// `kvmix compare A.json B.json ...`: fronts from different methods or runs side by side. Each
// front's hypervolume (pagmo2) against one common reference point (the widest of the fronts' own
// references, so the numbers are comparable), how many of its points survive in the union front
// (the others are dominated by another front's point), and one plot with every front
// (search/plots.h; a plot that cannot be drawn is an error here, since it is the asked-for output).
#include <spdlog/spdlog.h>

#include <pagmo/utils/hypervolume.hpp>

#include <cstdio>

#include "apps/kvmix/command.h"
#include "apps/kvmix/option_checks.h"
#include "lib/io/atomic_file.h"
#include "base/error.h"
#include "lib/io/gnuplot.h"
#include "search/front.h"
#include "search/plots.h"

namespace kvmix::app {
namespace {

struct CompareOptions {
  std::vector<std::string> fronts;
  std::string plot;  // PNG path; empty: no plot
};

// Points outside the reference box add nothing; pagmo refuses them, so they are left out.
double pagmo_hv(const std::vector<FrontPoint>& pts, const Point2& ref) {
  std::vector<pagmo::vector_double> v;
  for (const auto& p : pts)
    if (p.bytes_per_token < ref.cost && p.kl < ref.error) v.push_back({p.bytes_per_token, p.kl});
  if (v.empty()) return 0.0;
  return pagmo::hypervolume(v, true).compute({ref.cost, ref.error});
}

int run_compare(const CompareOptions& o) {
  if (o.fronts.size() < 2) throw UsageError("compare needs at least two front files");
  if (!o.plot.empty())
    for (const char* ext : {"", ".dat", ".gp"})
      refuse_output_over_inputs(o.plot + ext, "--plot", o.fronts);
  std::vector<Front> fs;
  for (const auto& f : o.fronts) fs.push_back(load_front(f));
  Point2 ref{0, 0};
  for (const auto& f : fs) {
    KVMIX_CHECK(f.sensitivity.model.config_hash == fs[0].sensitivity.model.config_hash,
                "{}: a front for another model shape than {}", o.fronts[&f - fs.data()], o.fronts[0]);
    ref.cost = std::max(ref.cost, f.hv_reference.cost);
    ref.error = std::max(ref.error, f.hv_reference.error);
  }
  // The union front: which points no other front's point dominates.
  std::printf("| front | method | evaluations | points | hypervolume | points on the union front |\n"
              "|---|---|---:|---:|---:|---:|\n");
  for (size_t i = 0; i < fs.size(); ++i) {
    int64_t survive = 0;
    for (const auto& p : fs[i].points) {
      bool dominated = false;
      for (size_t j = 0; j < fs.size() && !dominated; ++j)
        if (j != i)
          for (const auto& q : fs[j].points)
            if (dominates({q.bytes_per_token, q.kl}, {p.bytes_per_token, p.kl})) dominated = true;
      survive += !dominated;
    }
    // File names and labels come from other people's files: control bytes are shown escaped, so
    // a label cannot move the cursor, clear the terminal or start a new table row.
    std::printf("| %s | %s | %lld | %zu | %.6g | %lld |\n", escape_control_chars(o.fronts[i]).c_str(),
                escape_control_chars(fs[i].method).c_str(),
                static_cast<long long>(fs[i].evaluations), fs[i].points.size(),
                pagmo_hv(fs[i].points, ref), static_cast<long long>(survive));
  }
  std::printf("\nHypervolume reference: %.6g bytes per token, KL %.6g (area below it, larger is better).\n",
              ref.cost, ref.error);

  if (!o.plot.empty()) {
    const std::string dat = o.plot + ".dat", gp = o.plot + ".gp";
    write_file_atomic(dat, fronts_plot_data(fs));
    write_file_atomic(gp, fronts_plot_script(fs, o.fronts, dat, o.plot));
    // The PNG is what --plot asked for: without it the command failed, after the table and the
    // plot's data and script are out.
    const std::string failure = plot_failure(run_gnuplot(gp), o.plot, gp);
    std::fflush(stdout);
    if (!failure.empty()) throw Error(failure);
    spdlog::info("wrote {}", o.plot);
  }
  return 0;
}

Command setup_compare(CLI::App& parent) {
  auto o = std::make_shared<CompareOptions>();
  auto* sub = parent.add_subcommand("compare", "Hypervolume and dominance of two or more fronts, and one plot");
  sub->add_option("fronts", o->fronts, "front.json files")->required()->check(CLI::ExistingFile);
  sub->add_option("--plot", o->plot, "Write a PNG of all fronts here")->check(output_file());
  return {sub, [o] { return run_compare(*o); }};
}

}  // namespace
KVMIX_REGISTER_COMMAND(setup_compare);
}  // namespace kvmix::app
