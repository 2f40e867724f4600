#include "search/profile.h"

#include <ATen/ATen.h>

#include "kernels/ops.h"
#include "lib/dense_attention.h"
#include "base/error.h"
#include "lib/cache/full_kv_cache.h"
#include "lib/kv_quant_rules.h"
#include "lib/metrics.h"
#include "lib/cache/prefix_kv_cache.h"
#include "lib/process/progress.h"
#include "models/llama_forward.h"
#include "lib/io/atomic_file.h"
#include "lib/io/json_file.h"
#include "lib/io/json_header.h"
#include "search/eval_run.h"

#include <cmath>
#include <filesystem>

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

}  // namespace

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

  int64_t batches = 0;
  for (const auto& d : data) batches += (static_cast<int64_t>(d.prompts.size()) + opt.batch - 1) / opt.batch;
  Progress progress("profile", batches * L, opt.progress);
  std::vector<std::vector<CellSamples>> acc(static_cast<size_t>(L), std::vector<CellSamples>(static_cast<size_t>(P)));
  const int64_t resumed = load_checkpoint(opt.checkpoint_path, opt.checkpoint_key, batches, acc);
  if (resumed > 0) progress.advance(resumed * L);

  int64_t batch_index = 0;
  for (const auto& d : data) {
    const int64_t N = static_cast<int64_t>(d.prompts.size());
    for (int64_t b0 = 0; b0 < N; b0 += opt.batch, ++batch_index) {
      if (batch_index < resumed) continue;
      const int64_t B = std::min(opt.batch, N - b0);
      // --- batch tensors: prompts left-padded, continuations right-padded and truncated
      int64_t Lp = 0, Lc = 1;
      for (int64_t i = 0; i < B; ++i) {
        Lp = std::max<int64_t>(Lp, static_cast<int64_t>(d.prompts[static_cast<size_t>(b0 + i)].size()));
        Lc = std::max<int64_t>(Lc, std::min<int64_t>(opt.max_continuation,
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
      // --- 1. full-precision prefill
      FullKvCache prefill(shape);
      forward(m, ptok, pval, &prefill);
      std::vector<at::Tensor> pk, pv;
      for (int64_t l = 0; l < L; ++l) {
        pk.push_back(prefill.layer(l).keys().clone());
        pv.push_back(prefill.layer(l).values().clone());
      }
      const auto pvalid = prefill.layer(0).valid().clone();
      const auto seen = prefill.tokens_seen().clone();

      // --- 2. full-precision continuation, recording every layer
      std::vector<LayerRecord> rec(static_cast<size_t>(L));
      PrefixKvCache fp_replay(shape, pk, pv, pvalid, seen);
      const auto positions = fp_replay.begin_step(cval);
      const StepRope rope = step_rope(c, positions);
      Recorder recorder(rec);
      fp_replay.set_observer(&recorder);
      auto x = embed_tokens(m, ctok);
      for (int64_t l = 0; l < L; ++l) {
        rec[static_cast<size_t>(l)].hidden = x;
        x = run_layers(m, x, l, l + 1, rope, {}, &fp_replay);
      }
      const auto ref_logp = at::log_softmax(output_logits(m, x, false), -1);  // [B, Lc, V]
      const auto cmask = cval.to(at::kDouble);
      const auto ccount = cmask.sum(1).clamp_min(1.0);

      // --- 3. one layer quantized at a time
      for (int64_t l = 0; l < L; ++l) {
        const auto& r = rec[static_cast<size_t>(l)];
        const auto full_keys = at::cat({pk[static_cast<size_t>(l)], r.k_new}, 2);
        const auto full_values = at::cat({pv[static_cast<size_t>(l)], r.v_new}, 2);
        const auto valid_all = at::cat({pvalid, cval}, 1);
        at::Tensor ref_probs;
        dense_attention(r.q, full_keys, full_values, valid_all, &ref_probs);
        for (int64_t p = 0; p < P; ++p) {
          const auto& f = formats[static_cast<size_t>(p)];
          auto kq = pk[static_cast<size_t>(l)].clone();
          auto vq = pv[static_cast<size_t>(l)].clone();
          fake_quant_slots(kq, pvalid, f.k, 0);
          fake_quant_slots(vq, pvalid, f.v, 0);
          auto& cell = acc[static_cast<size_t>(l)][static_cast<size_t>(p)];
          const auto pmask = pvalid.view({B, 1, Lp, 1}).to(kq.scalar_type());
          const auto ke = rel_err_per_sample(kq * pmask, pk[static_cast<size_t>(l)] * pmask);
          const auto ve = rel_err_per_sample(vq * pmask, pv[static_cast<size_t>(l)] * pmask);
          // attention of the continuation over [quantized prompt; its own full-precision K/V]
          at::Tensor probs;
          const auto out = dense_attention(r.q, at::cat({kq, r.k_new}, 2), at::cat({vq, r.v_new}, 2),
                                           valid_all, &probs);
          const auto qmask = cval.view({B, 1, Lc}).to(at::kDouble);  // [B, 1, Lc] over heads
          const auto tv = (total_variation_rows(probs, ref_probs) * qmask).sum({1, 2}) /
                          (qmask.sum({1, 2}) * static_cast<double>(c.num_heads)).clamp_min(1.0);
          const auto omask = cval.view({B, 1, Lc, 1}).to(out.scalar_type());
          const auto oe = rel_err_per_sample(out * omask, r.out * omask);
          // downstream: layers l.. of the continuation, layer l reading the quantized prompt
          PrefixKvCache replay(shape, pk, pv, pvalid, seen);
          replay.set_layer(l, kq, vq);
          replay.begin_step(cval);
          auto y = run_layers(m, r.hidden, l, L, rope, {}, &replay);
          const auto logp = at::log_softmax(output_logits(m, y, false), -1);
          const auto kl = (kl_rows(ref_logp.exp(), logp.exp()) * cmask).sum(1) / ccount;  // [B]
          // Five [B] vectors read back together rather than one device round trip per value.
          const auto per_sample = at::stack({ke, ve, tv, oe, kl}).to(at::kDouble).to(at::kCPU);
          const auto values = per_sample.accessor<double, 2>();
          for (int64_t i = 0; i < B; ++i) {
            cell.k.add(values[0][i]);
            cell.v.add(values[1][i]);
            cell.tv.add(values[2][i]);
            cell.out.add(values[3][i]);
            cell.kl.add(values[4][i]);
          }
        }
        progress.advance();
        if (opt.stop && *opt.stop && l + 1 < L) {
          // This batch's samples are in some cells and not others: the checkpoint keeps the
          // batches before it, which the rerun continues from.
          throw Interrupted(fmt::format("profile stopped; {} of {} calibration batches kept{}", batch_index,
                                        batches, opt.checkpoint_path.empty() ? "" : " in " + opt.checkpoint_path));
        }
      }
      if (!opt.checkpoint_path.empty())
        save_checkpoint(opt.checkpoint_path, opt.checkpoint_key, batch_index + 1, acc);
      if (opt.stop && *opt.stop)
        throw Interrupted(fmt::format("profile stopped; {} of {} calibration batches kept{}", batch_index + 1,
                                      batches, opt.checkpoint_path.empty() ? "" : " in " + opt.checkpoint_path));
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
