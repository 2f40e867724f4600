#include "search/profile.h"

#include <ATen/ATen.h>

#include "kernels/ops.h"
#include "lib/dense_attention.h"
#include "base/error.h"
#include "lib/cache/full_kv_cache.h"
#include "lib/kv_config.h"
#include "lib/kv_quant_rules.h"
#include "lib/metrics.h"
#include "lib/cache/prefix_kv_cache.h"
#include "lib/process/progress.h"
#include "models/llama_forward.h"
#include "lib/io/atomic_file.h"
#include "lib/io/json_file.h"
#include "lib/io/json_header.h"
#include "search/eval_run.h"
#include "search/team_work.h"

#include <cmath>
#include <filesystem>
#include <memory>
#include <mutex>

namespace kvmix {
namespace {

// Per-sample values of one cell, accumulated over batches.
struct CellSamples {
  SampleStats k, v, tv, out, kl;
};

// ||a - b|| / ||b|| per sample over all dims but the first, counting only masked slots.
at::Tensor rel_err_per_sample(const at::Tensor& approx, const at::Tensor& ref) {
  auto d = (approx - ref).to(at::kDouble).pow(2).flatten(1).sum(1);
  auto r = ref.to(at::kDouble).pow(2).flatten(1).sum(1).clamp_min(1e-30);
  return (d / r).sqrt();
}

// Records, for one full-precision continuation step, each layer's inputs and attention.
struct LayerRecord {
  at::Tensor hidden;  // [B, Lc, hidden] entering the layer
  at::Tensor q, k_new, v_new, out;
};

class Recorder : public AttentionObserver {
 public:
  explicit Recorder(std::vector<LayerRecord>& r) : r_(r) {}
  void on_attention(const AttentionEvent& e) override {
    auto& x = r_.at(static_cast<size_t>(e.layer));
    x.q = e.q, x.k_new = e.k_new, x.v_new = e.v_new, x.out = e.output;
  }

 private:
  std::vector<LayerRecord>& r_;
};

constexpr const char* kCheckpointSchema = "kvmix.profile_checkpoint";

void save_checkpoint(const std::string& path, const std::string& key, int64_t batches_done,
                     const std::vector<std::vector<CellSamples>>& acc) {
  nlohmann::json cells = nlohmann::json::array();
  for (const auto& row : acc) {
    nlohmann::json r = nlohmann::json::array();
    for (const auto& c : row)
      r.push_back({c.k.values(), c.v.values(), c.tv.values(), c.out.values(), c.kl.values()});
    cells.push_back(std::move(r));
  }
  // nlohmann writes doubles with enough digits to read them back bit for bit: a resumed profile
  // equals an uninterrupted one.
  write_file_atomic(path, nlohmann::json{{"schema", kCheckpointSchema},
                                         {"version", 1},
                                         {"key", key},
                                         {"batches_done", batches_done},
                                         {"cells", cells}}
                              .dump() +
                              "\n");
}

// Returns the batches the checkpoint holds (0 when there is none) and fills `acc`.
int64_t load_checkpoint(const std::string& path, const std::string& key, int64_t total_batches,
                        std::vector<std::vector<CellSamples>>& acc) {
  if (path.empty() || !std::filesystem::exists(path)) return 0;
  const nlohmann::json j = read_json_file(path);
  try {
    check_json_header(j, "schema", kCheckpointSchema, 1, path, "a kvmix profile checkpoint");
    KVMIX_CHECK(j.at("key").get<std::string>() == key,
                "{}: a profile checkpoint of another run (other model, pairs, scheme, tasks or dtype); "
                "delete it to profile from scratch",
                path);
    const int64_t done = j.at("batches_done").get<int64_t>();
    KVMIX_CHECK(done >= 0 && done <= total_batches, "{}: batches_done {} is not within 0..{}", path, done,
                total_batches);
    const auto& cells = j.at("cells");
    KVMIX_CHECK(cells.is_array() && cells.size() == acc.size(), "{}: cells has {} layers, expected {}", path,
                cells.size(), acc.size());
    size_t count = SIZE_MAX;
    for (size_t l = 0; l < acc.size(); ++l) {
      KVMIX_CHECK(cells[l].is_array() && cells[l].size() == acc[l].size(),
                  "{}: cells[{}] has {} pairs, expected {}", path, l, cells[l].size(), acc[l].size());
      for (size_t p = 0; p < acc[l].size(); ++p) {
        const auto& c = cells[l][p];
        KVMIX_CHECK(c.is_array() && c.size() == 5, "{}: cells[{}][{}] is not five value lists", path, l, p);
        SampleStats* dst[5] = {&acc[l][p].k, &acc[l][p].v, &acc[l][p].tv, &acc[l][p].out, &acc[l][p].kl};
        for (size_t m = 0; m < 5; ++m) {
          const auto values = c[m].get<std::vector<double>>();
          if (count == SIZE_MAX) count = values.size();
          KVMIX_CHECK(values.size() == count, "{}: cells[{}][{}] holds lists of unequal length", path, l, p);
          for (double v : values) {
            KVMIX_CHECK(std::isfinite(v) && v >= 0, "{}: cells[{}][{}] holds {}, not a finite error >= 0",
                        path, l, p, v);
            dst[m]->add(v);
          }
        }
      }
    }
    return done;
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: malformed profile checkpoint: {}", path, e.what()));
  }
}

// The full-precision record of one calibration batch: the prompt's K/V per layer, and each layer's
// input, query and output over the teacher-forced continuation. Every cell of the batch starts
// from it.
struct BatchRecord {
  int64_t B = 0;
  std::vector<at::Tensor> pk, pv;
  at::Tensor pvalid, seen, cval, ref_logp, cmask, ccount;
  std::vector<LayerRecord> rec;
  StepRope rope;
};

BatchRecord record_batch(const Model& m, const TaskData& d, int64_t b0, int64_t batch, int64_t max_continuation) {
  const ModelConfig& c = m.config;
  const int64_t L = c.num_layers;
  const KvShape shape = kv_shape(c);
  const int64_t N = static_cast<int64_t>(d.prompts.size());
  KVMIX_CHECK(b0 >= 0 && b0 < N && batch >= 1, "profile: batch at sample {} of {} (batch size {})", b0, N, batch);
  BatchRecord r;
  const int64_t B = r.B = std::min(batch, N - b0);
  // --- batch tensors: prompts left-padded, continuations right-padded and truncated
  int64_t Lp = 0, Lc = 1;
  for (int64_t i = 0; i < B; ++i) {
    Lp = std::max<int64_t>(Lp, static_cast<int64_t>(d.prompts[static_cast<size_t>(b0 + i)].size()));
    Lc = std::max<int64_t>(Lc, std::min<int64_t>(max_continuation,
                                                 static_cast<int64_t>(d.continuations[static_cast<size_t>(b0 + i)].size())));
  }
  auto ptok = at::zeros({B, Lp}, at::kLong), pval = at::zeros({B, Lp}, at::kBool);
  auto ctok = at::zeros({B, Lc}, at::kLong), cval = at::zeros({B, Lc}, at::kBool);
  for (int64_t i = 0; i < B; ++i) {
    const auto& pr = d.prompts[static_cast<size_t>(b0 + i)];
    const auto& co = d.continuations[static_cast<size_t>(b0 + i)];
    const int64_t np = static_cast<int64_t>(pr.size());
    const int64_t nc = std::min<int64_t>(Lc, static_cast<int64_t>(co.size()));
    ptok[i].narrow(0, Lp - np, np).copy_(at::tensor(pr, at::kLong));
    pval[i].narrow(0, Lp - np, np).fill_(true);
    if (nc > 0) {
      ctok[i].narrow(0, 0, nc).copy_(at::tensor(std::vector<int64_t>(co.begin(), co.begin() + nc), at::kLong));
      cval[i].narrow(0, 0, nc).fill_(true);
    }
  }
  // filled on the host, used on the model's device
  const at::Device device = model_device(m);
  ptok = ptok.to(device), pval = pval.to(device);
  ctok = ctok.to(device), cval = cval.to(device);
  r.cval = cval;
  // --- 1. full-precision prefill
  FullKvCache prefill(shape);
  forward(m, ptok, pval, &prefill);
  for (int64_t l = 0; l < L; ++l) {
    r.pk.push_back(prefill.layer(l).keys().clone());
    r.pv.push_back(prefill.layer(l).values().clone());
  }
  r.pvalid = prefill.layer(0).valid().clone();
  r.seen = prefill.tokens_seen().clone();

  // --- 2. full-precision continuation, recording every layer
  r.rec.resize(static_cast<size_t>(L));
  PrefixKvCache fp_replay(shape, r.pk, r.pv, r.pvalid, r.seen);
  const auto positions = fp_replay.begin_step(cval);
  r.rope = step_rope(c, positions);
  Recorder recorder(r.rec);
  fp_replay.set_observer(&recorder);
  auto x = embed_tokens(m, ctok);
  for (int64_t l = 0; l < L; ++l) {
    r.rec[static_cast<size_t>(l)].hidden = x;
    x = run_layers(m, x, l, l + 1, r.rope, {}, &fp_replay);
  }
  r.ref_logp = at::log_softmax(output_logits(m, x, false), -1);  // [B, Lc, V]
  r.cmask = cval.to(at::kDouble);
  r.ccount = r.cmask.sum(1).clamp_min(1.0);
  return r;
}

// --- 3. layer l quantized alone with each pair: per pair, five per-sample lists (K, V, attention
// total variation, output error, next-token KL), [pairs][5][B].
nlohmann::json layer_cells(const Model& m, const BatchRecord& rb, int64_t l,
                           const std::vector<LayerKvFormat>& formats) {
  const ModelConfig& c = m.config;
  const int64_t L = c.num_layers, B = rb.B;
  const KvShape shape = kv_shape(c);
  const auto& pk = rb.pk;
  const auto& pv = rb.pv;
  const auto& pvalid = rb.pvalid;
  const auto& cval = rb.cval;
  const int64_t Lp = pk[0].size(2), Lc = cval.size(1);
  const auto& r = rb.rec[static_cast<size_t>(l)];
  const auto full_keys = at::cat({pk[static_cast<size_t>(l)], r.k_new}, 2);
  const auto full_values = at::cat({pv[static_cast<size_t>(l)], r.v_new}, 2);
  const auto valid_all = at::cat({pvalid, cval}, 1);
  at::Tensor ref_probs;
  dense_attention(r.q, full_keys, full_values, valid_all, &ref_probs);
  nlohmann::json out_cells = nlohmann::json::array();
  for (const auto& f : formats) {
    auto kq = pk[static_cast<size_t>(l)].clone();
    auto vq = pv[static_cast<size_t>(l)].clone();
    fake_quant_slots(kq, pvalid, f.k, 0);
    fake_quant_slots(vq, pvalid, f.v, 0);
    const auto pmask = pvalid.view({B, 1, Lp, 1}).to(kq.scalar_type());
    const auto ke = rel_err_per_sample(kq * pmask, pk[static_cast<size_t>(l)] * pmask);
    const auto ve = rel_err_per_sample(vq * pmask, pv[static_cast<size_t>(l)] * pmask);
    // attention of the continuation over [quantized prompt; its own full-precision K/V]
    at::Tensor probs;
    const auto out = dense_attention(r.q, at::cat({kq, r.k_new}, 2), at::cat({vq, r.v_new}, 2), valid_all, &probs);
    const auto qmask = cval.view({B, 1, Lc}).to(at::kDouble);  // [B, 1, Lc] over heads
    const auto tv = (total_variation_rows(probs, ref_probs) * qmask).sum({1, 2}) /
                    (qmask.sum({1, 2}) * static_cast<double>(c.num_heads)).clamp_min(1.0);
    const auto omask = cval.view({B, 1, Lc, 1}).to(out.scalar_type());
    const auto oe = rel_err_per_sample(out * omask, r.out * omask);
    // downstream: layers l.. of the continuation, layer l reading the quantized prompt
    PrefixKvCache replay(shape, pk, pv, pvalid, rb.seen);
    replay.set_layer(l, kq, vq);
    replay.begin_step(cval);
    auto y = run_layers(m, r.hidden, l, L, rb.rope, {}, &replay);
    const auto logp = at::log_softmax(output_logits(m, y, false), -1);
    const auto kl = (kl_rows(rb.ref_logp.exp(), logp.exp()) * rb.cmask).sum(1) / rb.ccount;  // [B]
    // Five [B] vectors read back together rather than one device round trip per value.
    const auto per_sample = at::stack({ke, ve, tv, oe, kl}).to(at::kDouble).to(at::kCPU).contiguous();
    nlohmann::json cell = nlohmann::json::array();
    for (int64_t s = 0; s < 5; ++s) {
      const double* row = per_sample[s].data_ptr<double>();
      cell.push_back(std::vector<double>(row, row + B));
    }
    out_cells.push_back(std::move(cell));
  }
  return out_cells;
}

constexpr const char* kProfileWork = "profile_layer";

nlohmann::json profile_context(const std::vector<TaskData>& data, const std::vector<LayerKvFormat>& formats,
                               const ProfileOptions& opt) {
  nlohmann::json d = nlohmann::json::array();
  for (const auto& t : data) d.push_back(task_data_to_json(t));
  return {{"data", d}, {"formats", layer_formats_to_json(formats)}, {"batch", opt.batch},
          {"max_continuation", opt.max_continuation}};
}

struct ProfileContext {
  std::vector<TaskData> data;
  std::vector<LayerKvFormat> formats;
  int64_t batch = 0, max_continuation = 0;
};

ProfileContext profile_context_from_json(const nlohmann::json& j) {
  ProfileContext c;
  for (const auto& t : j.at("data")) c.data.push_back(task_data_from_json(t, "profile work item"));
  c.formats = layer_formats_from_json(j.at("formats"), "profile work item");
  c.batch = j.at("batch").get<int64_t>();
  c.max_continuation = j.at("max_continuation").get<int64_t>();
  return c;
}

}  // namespace

nlohmann::json profile_layer_work(const Model& m, const nlohmann::json& item, WorkCache& cache) {
  const nlohmann::json& context = item.at("context");
  const std::string key = work_context_key(kProfileWork, context);
  const auto ctx = cache.get<ProfileContext>(key, [&] { return profile_context_from_json(context); });
  const int64_t task = item.at("task").get<int64_t>(), b0 = item.at("b0").get<int64_t>();
  const int64_t layer = item.at("layer").get<int64_t>();
  KVMIX_CHECK(task >= 0 && task < static_cast<int64_t>(ctx->data.size()), "profile work item: task {}", task);
  KVMIX_CHECK(layer >= 0 && layer < m.config.num_layers, "profile work item: layer {}", layer);
  // The layers of one batch come one after another: its record is kept for the next.
  const auto record = cache.latest<BatchRecord>(
      "profile batch", key + '\0' + std::to_string(task) + '\0' + std::to_string(b0),
      [&] { return record_batch(m, ctx->data[static_cast<size_t>(task)], b0, ctx->batch, ctx->max_continuation); });
  return layer_cells(m, *record, layer, ctx->formats);
}

Sensitivity run_profile(const Model& m, const Tokenizer& tok, const ProfileOptions& opt) {
  KVMIX_CHECK(!opt.tasks.empty(), "profile: no calibration tasks");
  KVMIX_CHECK(!opt.pairs.empty(), "profile: no candidate pairs");
  const ModelConfig& c = m.config;
  const int64_t L = c.num_layers, P = static_cast<int64_t>(opt.pairs.size());
  const KvShape shape = kv_shape(c);

  Sensitivity s;
  s.model = kv_shape(m.config);
  s.scheme = opt.scheme;
  s.pairs = opt.pairs;
  s.continuation_tokens = opt.max_continuation;
  s.reference_tokens = opt.reference_tokens;
  s.model.model_dtype_bytes = shape.model_dtype_bytes;

  std::vector<TaskData> data;
  for (const auto& t : opt.tasks) {
    KVMIX_CHECK(t.split == Split::kCalibration, "profile: task {} must use the calibration split", t.name);
    data.push_back(prepare_task(t, tok));
    s.tasks.push_back(t.name);
    s.samples = t.samples;
  }
  std::vector<LayerKvFormat> formats;
  for (size_t p = 0; p < opt.pairs.size(); ++p)
    formats.push_back({key_format(opt.scheme, opt.pairs[p].k_bits), value_format(opt.scheme, opt.pairs[p].v_bits)});
  KVMIX_CHECK(opt.batch >= 1, "profile: batch {} < 1", opt.batch);
  const nlohmann::json context = profile_context(data, formats, opt);
  WorkCache cache;

  int64_t batches = 0;
  for (const auto& d : data) batches += (static_cast<int64_t>(d.prompts.size()) + opt.batch - 1) / opt.batch;
  Progress progress("profile", batches * L, opt.progress);
  std::vector<std::vector<CellSamples>> acc(static_cast<size_t>(L), std::vector<CellSamples>(static_cast<size_t>(P)));
  const int64_t resumed = load_checkpoint(opt.checkpoint_path, opt.checkpoint_key, batches, acc);
  if (resumed > 0) progress.advance(resumed * L);
  auto stopped = [&](int64_t kept) {
    return Interrupted(fmt::format("profile stopped; {} of {} calibration batches kept{}", kept, batches,
                                   opt.checkpoint_path.empty() ? "" : " in " + opt.checkpoint_path));
  };

  int64_t batch_index = 0;
  for (size_t ti = 0; ti < data.size(); ++ti) {
    const int64_t N = static_cast<int64_t>(data[ti].prompts.size());
    for (int64_t b0 = 0; b0 < N; b0 += opt.batch, ++batch_index) {
      if (batch_index < resumed) continue;
      // One item per layer, deepest first: layer l's cells re-run layers l..L-1, so the first
      // layers cost the most, and handing them out first evens out the ranks' shares.
      std::vector<nlohmann::json> items;
      for (int64_t l = 0; l < L; ++l)
        items.push_back({{"kind", kProfileWork}, {"context", context}, {"task", ti}, {"b0", b0}, {"layer", l}});
      const auto results = share_work(m, tok, cache, items, opt.stop, [&](size_t, const nlohmann::json&) { progress.advance(); });
      for (const auto& r : results)
        if (r.is_null()) throw stopped(batch_index);  // this batch is in some cells and not others
      for (int64_t l = 0; l < L; ++l) {
        const auto& cells = results[static_cast<size_t>(l)];
        KVMIX_CHECK(cells.is_array() && cells.size() == static_cast<size_t>(P), "profile: layer {} came back with {} pairs",
                    l, cells.size());
        for (int64_t p = 0; p < P; ++p) {
          auto& cell = acc[static_cast<size_t>(l)][static_cast<size_t>(p)];
          SampleStats* dst[5] = {&cell.k, &cell.v, &cell.tv, &cell.out, &cell.kl};
          for (size_t k = 0; k < 5; ++k)
            for (double v : cells[static_cast<size_t>(p)].at(k).get<std::vector<double>>()) dst[k]->add(v);
        }
      }
      if (!opt.checkpoint_path.empty())
        save_checkpoint(opt.checkpoint_path, opt.checkpoint_key, batch_index + 1, acc);
      if (opt.stop && *opt.stop) throw stopped(batch_index + 1);
    }
  }
  progress.finish();

  s.full_precision_bytes_per_token =
      static_cast<double>(2 * true_bytes(c.num_kv_heads, opt.reference_tokens, c.head_dim, full_precision(),
                                         shape.model_dtype_bytes)) /
      static_cast<double>(opt.reference_tokens);
  s.cells.assign(static_cast<size_t>(L), std::vector<CellStats>(static_cast<size_t>(P)));
  for (int64_t l = 0; l < L; ++l)
    for (int64_t p = 0; p < P; ++p) {
      const auto& a = acc[static_cast<size_t>(l)][static_cast<size_t>(p)];
      auto& x = s.cells[static_cast<size_t>(l)][static_cast<size_t>(p)];
      x.k_rel_err = a.k.mean(), x.k_rel_err_std = a.k.stddev();
      x.v_rel_err = a.v.mean(), x.v_rel_err_std = a.v.stddev();
      x.attn_tv = a.tv.mean(), x.attn_tv_std = a.tv.stddev();
      x.out_rel_err = a.out.mean(), x.out_rel_err_std = a.out.stddev();
      x.kl = a.kl.mean(), x.kl_std = a.kl.stddev(), x.kl_p90 = a.kl.quantile(0.9);
      const auto& f = formats[static_cast<size_t>(p)];
      x.bytes_per_token =
          static_cast<double>(true_bytes(c.num_kv_heads, opt.reference_tokens, c.head_dim, f.k, shape.model_dtype_bytes) +
                              true_bytes(c.num_kv_heads, opt.reference_tokens, c.head_dim, f.v, shape.model_dtype_bytes)) /
          static_cast<double>(opt.reference_tokens);
    }
  return s;
}

}  // namespace kvmix
