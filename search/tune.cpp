#include "search/tune.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <filesystem>

#include "base/error.h"
#include "lib/io/atomic_file.h"
#include "lib/io/dir_lock.h"
#include "lib/io/identity_diff.h"
#include "lib/io/json_file.h"
#include "lib/io/json_header.h"
#include "lib/kv_config.h"
#include "models/device.h"
#include "models/weights_hash.h"
#include "search/eval_run.h"
#include "search/plots.h"
#include "search/run_timing.h"

namespace fs = std::filesystem;

namespace kvmix {
namespace {

constexpr const char* kRunSchema = "kvmix.tune_run";

// run.json: {"schema": "kvmix.tune_run", "version": 1, "stages": {"profile": {...}, "eval": {...}}}.
// Each stage entry is the identity its output was computed under.
class RunManifest {
 public:
  explicit RunManifest(std::string path) : path_(std::move(path)) {
    if (!fs::exists(path_)) return;
    const nlohmann::json j = read_json_file(path_);
    check_json_header(j, "schema", kRunSchema, 1, path_, "a kvmix tune run record");
    KVMIX_CHECK(j.contains("stages") && j.at("stages").is_object(),
                "{}: a kvmix tune run record without a 'stages' object", path_);
    stages_ = j.at("stages");
  }
  const nlohmann::json* stage(const std::string& name) const {
    return stages_.contains(name) ? &stages_.at(name) : nullptr;
  }
  void set(const std::string& name, const nlohmann::json& identity) {
    stages_[name] = identity;
    save();
  }
  void erase(const std::string& name) {
    if (!stages_.contains(name)) return;
    stages_.erase(name);
    save();
  }

 private:
  void save() const {
    const nlohmann::json j = {{"schema", kRunSchema}, {"version", 1}, {"stages", stages_}};
    write_file_atomic(path_, j.dump(2) + "\n");
  }

  std::string path_;
  nlohmann::json stages_ = nlohmann::json::object();
};

std::vector<std::string> resolved_pairs(const ProfileStageOptions& p) {
  std::vector<std::string> names;
  if (p.pairs.empty()) {
    for (const KvPair& kp : default_candidate_pairs()) names.push_back(pair_name(kp));
  } else {
    for (const auto& s : p.pairs) names.push_back(pair_name(parse_pair(s)));
  }
  return names;
}

nlohmann::json profile_identity(const TuneOptions& o, const std::string& weights, const std::string& config_hash) {
  return {{"weights", weights},
          {"config_hash", config_hash},
          {"dtype", o.dtype},
          {"scheme", scheme_name(parse_scheme(o.profile.scheme))},
          {"pairs", resolved_pairs(o.profile)},
          {"calib_tasks", o.profile.calib_tasks},
          {"calib_samples", o.profile.calib_samples}};
}

// The first line of a search journal holds the identity of the run that wrote it.
nlohmann::json journal_identity(const std::string& path) {
  const std::vector<JsonLine> lines = read_json_lines_for_append(path);
  if (lines.empty() || !lines.front().value.is_object() || !lines.front().value.contains("run")) return nullptr;
  return lines.front().value.at("run");
}

[[noreturn]] void refuse_stale(const std::string& what, const std::string& out, const std::string& changes) {
  throw UsageError(fmt::format(
      "{}: the {} in this run folder was computed for other options ({}). Rerun with the options it was "
      "made with, or use another --out folder (delete the folder to start over).",
      out, what, changes));
}

const FrontPoint* choose(const Front& front, double max_kl) {
  const FrontPoint* chosen = nullptr;
  for (const auto& p : front.points)
    if (p.kl <= max_kl && (!chosen || p.bytes_per_token < chosen->bytes_per_token)) chosen = &p;
  if (chosen) return chosen;
  for (const auto& p : front.points)
    if (!chosen || p.kl < chosen->kl) chosen = &p;
  spdlog::warn("no front point has calibration KL <= {}; taking the lowest KL ({:.4f})", max_kl, chosen->kl);
  return chosen;
}

}  // namespace

void check_tune_options(const TuneOptions& o) {
  auto usage = [](bool ok, const std::string& msg) {
    if (!ok) throw UsageError(msg);
  };
  usage(o.dtype == "fp32" || o.dtype == "bf16" || o.dtype == "fp16", "--dtype must be fp32, bf16 or fp16");
  usage(std::isfinite(o.max_kl) && o.max_kl >= 0, fmt::format("--max-kl must be a finite number >= 0, not {}", o.max_kl));
  usage(o.eval_samples > 0, fmt::format("--eval-samples must be at least 1, not {}", o.eval_samples));
  usage(o.profile.calib_samples > 0, fmt::format("--calib-samples must be at least 1, not {}", o.profile.calib_samples));
  usage(!o.eval_tasks.empty(), "--eval-tasks names no task");
  usage(!o.profile.calib_tasks.empty(), "--calib-tasks names no task");
  try {
    for (const auto& t : o.eval_tasks) (void)parse_task(t, Split::kHeldOut, 1);
    for (const auto& t : o.profile.calib_tasks) (void)parse_task(t, Split::kCalibration, 1);
    (void)parse_scheme(o.profile.scheme);
    (void)resolved_pairs(o.profile);
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
  check_search_stage_options(o.search);
}

TuneResult run_tune(const Model& m, const Tokenizer& tok, const TuneOptions& o, const std::string& out,
                    const std::atomic<bool>* stop) {
  check_tune_options(o);
  const auto t_all = std::chrono::steady_clock::now();
  std::error_code ec;
  fs::create_directories(out, ec);
  KVMIX_CHECK(!ec && fs::is_directory(out), "{}: cannot create the run folder: {}", out, ec.message());
  const DirLock lock(out);
  RunManifest manifest(out + "/run.json");
  RunTiming timing(out + "/timing.json");
  TuneResult result;

  check_scheme_fits(parse_scheme(o.profile.scheme), m.config.head_dim);
  const std::string weights = weights_hash(m);
  const KvShape shape = kv_shape(m.config);

  // 1. profile
  auto t0 = std::chrono::steady_clock::now();
  const std::string sens_path = out + "/sensitivity.json";
  const nlohmann::json profile_id = profile_identity(o, weights, shape.config_hash);
  Sensitivity s;
  if (fs::exists(sens_path)) {
    const nlohmann::json* was = manifest.stage("profile");
    if (!was)
      refuse_stale("sensitivity.json", out, "run.json records nothing about how it was made");
    if (*was != profile_id) refuse_stale("profile (sensitivity.json)", out, identity_changes(*was, profile_id));
    s = load_sensitivity_for(sens_path, m);
    spdlog::info("profile: reusing {}", sens_path);
    timing.record("profile", seconds_since(t0), StageRun::kReused);
  } else {
    const std::string checkpoint = out + "/profile.checkpoint.json";
    const bool resuming = fs::exists(checkpoint);
    s = profile_stage(m, tok, o.profile, sens_path, stop, checkpoint, profile_id.dump());
    manifest.set("profile", profile_id);
    fs::remove(checkpoint, ec);
    spdlog::info("wrote {}", sens_path);
    timing.record("profile", seconds_since(t0), resuming ? StageRun::kResumed : StageRun::kRan);
  }

  // 2. prune, cluster and the exact proxy front
  t0 = std::chrono::steady_clock::now();
  const SearchSpace space = reduce_search_space(s, o.search);
  plot_sensitivity_heatmap(s, space.metric, out + "/sensitivity.png");
  timing.record("prune, cluster, proxy front", seconds_since(t0), StageRun::kRan);

  // 3. the search on the calibration KL, guided by the proxy front
  t0 = std::chrono::steady_clock::now();
  const auto calib = task_specs(o.profile.calib_tasks, Split::kCalibration, o.profile.calib_samples);
  nlohmann::json identity = search_identity("tune", o.search, s, o.profile.calib_tasks, o.profile.calib_samples);
  identity["weights"] = weights;
  identity["dtype"] = o.dtype;
  identity["pairs"] = profile_id.at("pairs");
  identity["budget_bits"] = o.search.budget_bits;
  const std::string journal = out + "/journal.jsonl";
  if (fs::exists(journal)) {
    const nlohmann::json was = journal_identity(journal);
    if (!was.is_null() && was != identity) refuse_stale("search journal (journal.jsonl)", out, identity_changes(was, identity));
  }
  const SearchStageResult searched = search_stage(m, tok, s, space, o.search, calib, identity, out, stop);
  const Front& front = searched.front;
  timing.record("search", seconds_since(t0), searched.resumed ? StageRun::kResumed : StageRun::kRan);
  if (!front.complete) return result;
  KVMIX_CHECK(!front.points.empty(), "tune: the search produced no configuration within the budget");

  // 4. the choice: the fewest bytes whose calibration KL is within max_kl (else the lowest KL)
  const FrontPoint* chosen = choose(front, o.max_kl);
  std::vector<LayerKvFormat> formats;
  for (size_t p : chosen->layer_pairs) {
    formats.push_back(pair_formats(s, p));
    result.chosen_pairs.push_back(pair_name(s.pairs.at(p)));
  }
  result.chosen_bytes_per_token = chosen->bytes_per_token;
  KvConfig cfg = make_kv_config(m, formats, s.reference_tokens);
  cfg.provenance.model_path = o.model_label;
  cfg.provenance.calibration = fmt::format("{} calibration split, {} samples each",
                                           fmt::join(o.profile.calib_tasks, "+"), o.profile.calib_samples);
  cfg.provenance.objective = fmt::format("smallest true bytes with calibration KL <= {}", o.max_kl);
  cfg.provenance.seed = o.search.seed;
  cfg.provenance.measured = {{"calibration_kl", chosen->kl}};

  // 5. held-out eval of the choice beside uniform baselines
  t0 = std::chrono::steady_clock::now();
  const std::string eval_path = out + "/eval.json";
  const nlohmann::json eval_id = {{"weights", weights},       {"dtype", o.dtype},
                                  {"scheme", scheme_name(s.scheme)}, {"chosen", result.chosen_pairs},
                                  {"eval_tasks", o.eval_tasks}, {"eval_samples", o.eval_samples},
                                  {"seed", o.search.seed},     {"reference_tokens", s.reference_tokens}};
  nlohmann::json ev;
  const nlohmann::json* eval_was = manifest.stage("eval");
  if (fs::exists(eval_path) && eval_was && *eval_was == eval_id) {
    ev = read_json_file(eval_path);
    KVMIX_CHECK(ev.is_object() && ev.contains("results") && ev.at("results").is_array(),
                "{}: not a kvmix eval file (no results list)", eval_path);
    timing.record("held-out eval", seconds_since(t0), StageRun::kReused);
  } else {
    if (fs::exists(eval_path))
      spdlog::info("held-out eval: rerunning, {}",
                   eval_was ? "options changed: " + identity_changes(*eval_was, eval_id) : "no record of its options");
    manifest.erase("eval");
    std::vector<EvalConfig> configs = uniform_eval_configs(
        {s.scheme}, {parse_pair("KV4"), parse_pair("K4V2"), parse_pair("KV2")}, s.model.layers);
    configs.insert(configs.begin(), EvalConfig{"kvmix tuned", formats, "mixed"});
    EvalRunOptions ro;
    ro.tasks = task_specs(o.eval_tasks, Split::kHeldOut, o.eval_samples);
    ro.seed = o.search.seed;
    ro.reference_tokens = s.reference_tokens;
    ro.stop = stop;
    ev = run_eval(m, tok, configs, ro);
    write_file_atomic(eval_path, ev.dump(2) + "\n");
    manifest.set("eval", eval_id);
    timing.record("held-out eval", seconds_since(t0), StageRun::kRan);
  }
  try {
    for (const auto& r : ev.at("results"))
      if (r.at("config") == "kvmix tuned")
        cfg.provenance.measured[r.at("task").get<std::string>()] = {{"score", r.at("score")}, {"kl", r.at("kl")}};
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: malformed eval results: {}", eval_path, e.what()));
  }

  // 6. export and summary
  save_kv_config(cfg, out + "/config.json");
  std::string md = "# kvmix tune\n\n";
  // The device is information, not identity: results made on another device differ by rounding
  // only, so a profile made on the CPU is reused on a GPU and the other way round.
  md += fmt::format("Model: `{}` ({} layers, {} KV heads x {} dims), scheme {}, error metric {}, "
                    "dtype {}, device {}.\n\n",
                    o.model_label, s.model.layers, s.model.kv_heads, s.model.head_dim, scheme_name(s.scheme),
                    o.search.metric, o.dtype, device_name(model_device(m)));
  md += fmt::format("Search space: 10^{:.2f} configurations; 10^{:.2f} after pruning dominated pairs; "
                    "10^{:.2f} over {} layer clusters (threshold {}).\n\n",
                    space.log10_full, space.log10_pruned, space.log10_clustered, space.clusters.layers.size(),
                    o.search.cluster_threshold);
  md += fmt::format("Exact proxy front: {} points. Search method {}, seed {}: {} full evaluations "
                    "(population {}, {} generations), front: {} points, hypervolume {:.4f}.\n\n",
                    space.proxy.size(), search_method_option(o.search.method), o.search.seed, front.evaluations, o.search.population,
                    o.search.generations, front.points.size(),
                    front.hypervolume_curve.empty() ? 0.0 : front.hypervolume_curve.back());
  md += front_table(front, s, chosen);
  md += fmt::format("\nChosen (`config.json`): the fewest bytes with calibration KL <= {}: {:.0f} true bytes per "
                    "token at {} tokens ({:.3f} true bits, {:.2f} nominal), calibration KL {:.4f}.\n\n"
                    "## Held-out evaluation\n\n",
                    o.max_kl, chosen->bytes_per_token, s.reference_tokens, chosen->true_bits, chosen->nominal_bits,
                    chosen->kl);
  md += eval_table(ev);
  md += "\nPictures: `sensitivity.png` (layers x pairs), `front.png`.\n";
  md += "\n## Where the time went\n\n" + timing.markdown_table(seconds_since(t_all));
  write_file_atomic(out + "/summary.md", md);
  result.complete = true;
  result.summary = md;
  return result;
}

}  // namespace kvmix
