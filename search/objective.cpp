#include "search/objective.h"

#include <chrono>
#include <cmath>

#include "base/error.h"
#include "lib/kv_config.h"
#include "models/llama_forward.h"
#include "search/team_work.h"

namespace kvmix {
namespace {

constexpr const char* kObjectiveWork = "objective";

std::vector<LayerKvFormat> formats_from_json(const nlohmann::json& j, size_t layers) {
  auto f = layer_formats_from_json(j, "objective work item");
  KVMIX_CHECK(f.size() == layers, "objective work item: {} layer formats for {} layers", f.size(), layers);
  return f;
}

}  // namespace

std::vector<std::optional<ObjectiveValue>> Objective::evaluate_batch(const std::vector<std::vector<size_t>>& configs,
                                                                     const std::atomic<bool>* stop,
                                                                     const ObjectiveDone& on_done) const {
  std::vector<std::optional<ObjectiveValue>> out(configs.size());
  for (size_t i = 0; i < configs.size() && !(stop && stop->load()); ++i) {
    out[i] = evaluate(configs[i]);
    if (on_done) on_done(i, *out[i]);
  }
  return out;
}

CalibrationKl::CalibrationKl(const Model& m, const Tokenizer& tok, const nlohmann::json& context)
    : m_(m), tok_(tok) {
  cache_ = parse_cache_kind(context.at("cache").get<std::string>());
  eval_.batch = context.at("batch").get<int64_t>();
  eval_.decode_chunk = context.at("decode_chunk").get<int64_t>();
  eval_.generate = false;
  eval_.progress = false;
  const KvShape shape = kv_shape(m.config);
  for (const auto& t : context.at("data")) {
    data_.push_back(task_data_from_json(t, "objective work item"));
    refs_.emplace_back();
    evaluate_task(m, tok, data_.back(), [&] { return make_kv_cache(CacheKind::kFull, shape, {}); }, eval_, nullptr,
                  &refs_.back());
  }
}

double CalibrationKl::kl(const std::vector<LayerKvFormat>& formats) const {
  const KvShape shape = kv_shape(m_.config);
  double kl = 0;
  for (size_t i = 0; i < data_.size(); ++i) {
    const TaskScore sc = evaluate_task(m_, tok_, data_[i], [&] { return make_kv_cache(cache_, shape, formats); },
                                       eval_, &refs_[i], nullptr);
    kl += sc.kl / static_cast<double>(data_.size());
  }
  return kl;
}

nlohmann::json objective_work(const Model& m, const Tokenizer& tok, const nlohmann::json& item, WorkCache& cache) {
  const nlohmann::json& context = item.at("context");
  const auto kl = cache.get<CalibrationKl>(work_context_key(kObjectiveWork, context),
                                                  [&] { return CalibrationKl(m, tok, context); });
  const auto t0 = std::chrono::steady_clock::now();
  const double v = kl->kl(formats_from_json(item.at("formats"), static_cast<size_t>(m.config.num_layers)));
  return {{"kl", v}, {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()}};
}

ObjectiveEvaluator::ObjectiveEvaluator(const Model& m, const Tokenizer& tok, const Sensitivity& s,
                                       ObjectiveOptions o)
    : m_(m), tok_(tok), s_(s) {
  KVMIX_CHECK(!o.tasks.empty(), "search objective: no calibration tasks");
  nlohmann::json data = nlohmann::json::array();
  for (const auto& t : o.tasks) {
    KVMIX_CHECK(t.split == Split::kCalibration, "search objective: task {} must use the calibration split",
                t.name);
    data.push_back(task_data_to_json(prepare_task(t, tok)));
  }
  context_ = {{"data", data},
              {"cache", cache_kind_name(o.cache)},
              {"batch", o.eval.batch},
              {"decode_chunk", o.eval.decode_chunk}};
  kl_ = cache_.get<CalibrationKl>(work_context_key(kObjectiveWork, context_),
                                        [&] { return CalibrationKl(m, tok, context_); });
}

std::vector<LayerKvFormat> ObjectiveEvaluator::layer_formats(const std::vector<size_t>& lp) const {
  KVMIX_CHECK(static_cast<int64_t>(lp.size()) == s_.model.layers, "objective: {} choices for {} layers",
              lp.size(), s_.model.layers);
  std::vector<LayerKvFormat> f;
  for (size_t p : lp) f.push_back(pair_formats(s_, p));
  return f;
}

double ObjectiveEvaluator::bytes_per_token(const std::vector<size_t>& lp) const {
  double b = 0;
  for (size_t l = 0; l < lp.size(); ++l) b += s_.cells.at(l).at(lp[l]).bytes_per_token;
  return b;
}

ObjectiveValue ObjectiveEvaluator::evaluate(const std::vector<size_t>& lp) const {
  // The same computation a work item makes, without the message.
  const auto t0 = std::chrono::steady_clock::now();
  ObjectiveValue v;
  v.kl = kl_->kl(layer_formats(lp));
  v.bytes_per_token = bytes_per_token(lp);
  v.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return v;
}

std::vector<std::optional<ObjectiveValue>> ObjectiveEvaluator::evaluate_batch(
    const std::vector<std::vector<size_t>>& configs, const std::atomic<bool>* stop, const ObjectiveDone& on_done) const {
  std::vector<nlohmann::json> items;
  for (const auto& lp : configs)
    items.push_back({{"kind", kObjectiveWork}, {"context", context_}, {"formats", layer_formats_to_json(layer_formats(lp))}});
  std::vector<std::optional<ObjectiveValue>> out(configs.size());
  share_work(m_, tok_, cache_, items, stop, [&](size_t i, const nlohmann::json& r) {
    const double kl = r.at("kl").get<double>();
    KVMIX_CHECK(std::isfinite(kl) && kl >= 0, "objective: a rank returned KL {}", kl);
    out[i] = ObjectiveValue{kl, bytes_per_token(configs[i]), r.at("seconds").get<double>()};
    if (on_done) on_done(i, *out[i]);
  });
  return out;
}

}  // namespace kvmix
