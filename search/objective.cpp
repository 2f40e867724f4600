#include "search/objective.h"

#include "base/error.h"
#include "models/llama_forward.h"

namespace kvmix {

ObjectiveEvaluator::ObjectiveEvaluator(const Model& m, const Tokenizer& tok, const Sensitivity& s,
                                       ObjectiveOptions o)
    : m_(m), tok_(tok), s_(s), o_(std::move(o)) {
  KVMIX_CHECK(!o_.tasks.empty(), "search objective: no calibration tasks");
  o_.eval.generate = false;
  o_.eval.progress = false;
  const KvShape shape = kv_shape(m.config);
  for (const auto& t : o_.tasks) {
    KVMIX_CHECK(t.split == Split::kCalibration, "search objective: task {} must use the calibration split",
                t.name);
    data_.push_back(prepare_task(t, tok));
    refs_.emplace_back();
    evaluate_task(m, tok, data_.back(), [&] { return make_kv_cache(CacheKind::kFull, shape, {}); },
                  o_.eval, nullptr, &refs_.back());
  }
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
  const auto formats = layer_formats(lp);
  const KvShape shape = kv_shape(m_.config);
  ObjectiveValue v;
  for (size_t i = 0; i < data_.size(); ++i) {
    const TaskScore sc = evaluate_task(m_, tok_, data_[i],
                                       [&] { return make_kv_cache(o_.cache, shape, formats); }, o_.eval,
                                       &refs_[i], nullptr);
    v.kl += sc.kl / static_cast<double>(data_.size());
  }
  v.bytes_per_token = bytes_per_token(lp);
  return v;
}

}  // namespace kvmix
