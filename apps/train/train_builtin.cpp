// kvmix_train: trains the built-in model from scratch (or resumes), on the Brown corpus mixed with
// generated arith and recall samples, and exports it in the Hugging Face layout.
//
//   kvmix_train --out runs/train-builtin                       # train or resume
//   kvmix_train --out runs/train-builtin --export models/builtin
//
// AdamW (Loshchilov & Hutter, arXiv 1711.05101), linear warm-up then cosine decay, gradient
// clipping; sequence length follows a curriculum (short rows first, long rows late: long rows
// cost more per token on a CPU, and retrieval over long contexts is learnt last).
#include <torch/torch.h>

#include <CLI/CLI.hpp>

#include "lib/process/allocator_tuning.h"
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "apps/train/builtin_recipe.h"
#include "apps/train/builtin_vocab.h"
#include "apps/train/training_stream.h"
#include "lib/io/atomic_file.h"
#include "lib/process/cpu_threads.h"
#include "base/error.h"
#include "lib/io/json_file.h"
#include "lib/cache/full_kv_cache.h"
#include "lib/io/paths.h"
#include "lib/tasks/arith.h"
#include "lib/tasks/recall.h"
#include "models/generate.h"
#include "models/llama_forward.h"
#include "models/loader.h"

namespace fs = std::filesystem;
using namespace kvmix;
using namespace kvmix::builtin;

namespace {

struct TrainOptions {
  std::string out = "runs/train-builtin";  // checkpoints, loss log
  std::string export_dir;                  // when set: export the latest checkpoint and stop
  int64_t steps = 6000;
  int64_t tokens_per_step = 4096;
  double lr = 2e-3;
  double min_lr_ratio = 0.1;
  int64_t warmup = 200;
  double weight_decay = 0.1;
  double clip = 1.0;
  uint64_t seed = 1234;
  int64_t save_every = 50;
  int64_t eval_every = 250;
  int64_t eval_samples = 24;
  int threads = 2;
  std::string init_from;      // warm start: weights of another run's checkpoint, fresh optimizer
  std::string curriculum = "0:256,0.5:512,0.8:1024";  // fraction of steps : row length
  MixWeights mix;
  int64_t stop_at = 0;        // >0: stop after this step (the schedule still spans --steps)
  int64_t show = 0;           // print this many calibration generations per task and stop
};

// "0:256,0.5:512,0.8:1024" -> row length by fraction of training done.
int64_t seq_len_at(const std::string& spec, int64_t step, int64_t total) {
  const double f = static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, total));
  int64_t len = 0;
  size_t i = 0;
  while (i < spec.size()) {
    const size_t comma = std::min(spec.find(',', i), spec.size());
    const std::string item = spec.substr(i, comma - i);
    const size_t colon = item.find(':');
    KVMIX_CHECK(colon != std::string::npos, "--curriculum: '{}' is not FRACTION:LENGTH", item);
    if (std::stod(item.substr(0, colon)) <= f) len = std::stoll(item.substr(colon + 1));
    i = comma + 1;
  }
  KVMIX_CHECK(len > 0, "--curriculum '{}' gives no length at step {}", spec, step);
  return len;
}

std::vector<at::Tensor> parameters(Model& m) {
  std::vector<at::Tensor> p;
  for (auto& s : tensor_slots(m.weights, m.config)) p.push_back(*s.tensor);
  return p;
}

void init_weights(Model& m, uint64_t seed) {
  torch::manual_seed(seed);
  const double std_in = 0.02;
  const double std_out = 0.02 / std::sqrt(2.0 * static_cast<double>(m.config.num_layers));
  for (auto& s : tensor_slots(m.weights, m.config)) {
    const bool residual_out = s.name.find("o_proj") != std::string::npos ||
                              s.name.find("down_proj") != std::string::npos;
    *s.tensor = s.is_norm ? torch::ones(s.shape)
                          : torch::randn(s.shape) * (residual_out ? std_out : std_in);
    s.tensor->set_requires_grad(true);
  }
  tie_embeddings(m.weights, m.config);
}

double lr_at(const TrainOptions& o, int64_t step) {
  if (step < o.warmup) return o.lr * static_cast<double>(step + 1) / static_cast<double>(o.warmup);
  const double t = static_cast<double>(step - o.warmup) / static_cast<double>(std::max<int64_t>(1, o.steps - o.warmup));
  const double cosine = 0.5 * (1.0 + std::cos(M_PI * std::min(1.0, t)));
  return o.lr * (o.min_lr_ratio + (1.0 - o.min_lr_ratio) * cosine);
}

// Greedy accuracy on a few calibration samples: the trainer's progress check (the real scores come
// from `kvmix eval` on the held-out split).
std::pair<double, double> quick_eval(const Model& m, int64_t n, int64_t recall_bytes,
                                     bool show = false) {
  torch::NoGradGuard ng;
  auto run = [&](auto make, int64_t max_new) {
    std::vector<std::vector<int64_t>> prompts;
    std::vector<std::string> answers;
    for (int64_t i = 0; i < n; ++i) {
      PromptAnswer pa = make(i);
      auto ids = bytes_to_ids(pa.prompt);
      ids.insert(ids.begin(), kBos);
      prompts.push_back(ids);
      answers.push_back(pa.answer);
    }
    FullKvCache cache(kv_shape(m.config));
    GenerateOptions go;
    go.max_new_tokens = max_new;
    go.stop_ids = {kEos};
    go.stop_strings = {"\n"};
    go.detokenize = ids_to_bytes;
    auto r = generate(m, prompts, cache, go);
    int64_t ok = 0;
    for (size_t i = 0; i < answers.size(); ++i) {
      const std::string got = ids_to_bytes(r.tokens[i]);
      const bool right = extract_final_number(got) == answers[i];
      ok += right;
      if (show)
        std::printf("--- %s (want %s)\n...%s|%s\n", right ? "ok" : "WRONG", answers[i].c_str(),
                    ids_to_bytes(prompts[i]).substr(std::max<size_t>(prompts[i].size(), 300) - 300).c_str(),
                    got.c_str());
    }
    return static_cast<double>(ok) / static_cast<double>(n);
  };
  const double arith = run([](int64_t i) { return make_arith_problem(Split::kCalibration, i).text; }, 200);
  RecallOptions ro;
  ro.min_prompt_bytes = std::max<int64_t>(64, recall_bytes / 2);
  ro.max_prompt_bytes = recall_bytes;
  const double recall = run([&](int64_t i) { return make_recall_problem(Split::kCalibration, i, ro).text; }, 8);
  return {arith, recall};
}

void save_checkpoint(const TrainOptions& o, Model& m, torch::optim::AdamW& opt, int64_t step,
                     int64_t tokens) {
  fs::create_directories(o.out);
  const std::string w = o.out + "/weights.pt", s = o.out + "/optimizer.pt";
  torch::save(parameters(m), w + ".tmp");
  torch::save(opt, s + ".tmp");
  fs::rename(w + ".tmp", w);
  fs::rename(s + ".tmp", s);
  nlohmann::json st = {{"schema", "kvmix.train.state"}, {"version", 1}, {"step", step},
                       {"tokens", tokens}, {"seed", o.seed}};
  write_file_atomic(o.out + "/state.json", st.dump(1) + "\n");
}

int64_t load_checkpoint(const TrainOptions& o, Model& m, torch::optim::AdamW& opt, int64_t& tokens) {
  if (!fs::exists(o.out + "/state.json")) return 0;
  auto st = read_json_file(o.out + "/state.json");
  KVMIX_CHECK(st.value("seed", o.seed) == o.seed, "{}: checkpoint was trained with seed {}, not {}",
              o.out, st.value("seed", 0ULL), o.seed);
  std::vector<at::Tensor> saved;
  torch::load(saved, o.out + "/weights.pt");
  auto params = parameters(m);
  KVMIX_CHECK(saved.size() == params.size(), "{}: checkpoint has {} tensors, model {}", o.out,
              saved.size(), params.size());
  {
    torch::NoGradGuard ng;
    for (size_t i = 0; i < saved.size(); ++i) params[i].copy_(saved[i]);
  }
  torch::load(opt, o.out + "/optimizer.pt");
  tokens = st.value("tokens", int64_t{0});
  return st.at("step").get<int64_t>();
}

int run(const TrainOptions& o) {
  set_cpu_threads(o.threads);
  Model m;
  m.config = builtin_config();
  m.source = "built-in (training)";
  resize_layers(m.weights, m.config);
  init_weights(m, o.seed);
  auto params = parameters(m);
  torch::optim::AdamW opt(params, torch::optim::AdamWOptions(o.lr).betas({0.9, 0.95})
                                      .weight_decay(o.weight_decay));
  int64_t tokens = 0;
  int64_t step = load_checkpoint(o, m, opt, tokens);
  if (step > 0) spdlog::info("resumed from {} at step {}", o.out, step);
  if (step == 0 && !o.init_from.empty()) {
    // Warm start: weights only; this run's own optimizer state and schedule start fresh.
    TrainOptions src = o;
    src.out = o.init_from;
    torch::optim::AdamW scratch(parameters(m), torch::optim::AdamWOptions(o.lr));
    int64_t t = 0;
    src.seed = read_json_file(o.init_from + "/state.json").at("seed").get<uint64_t>();
    const int64_t s0 = load_checkpoint(src, m, scratch, t);
    KVMIX_CHECK(s0 > 0, "--init-from {}: no checkpoint there", o.init_from);
    spdlog::info("warm start from {} (step {})", o.init_from, s0);
  }
  if (o.show > 0) {
    auto [a, r] = quick_eval(m, o.show, 1000, true);
    spdlog::info("calibration check: arith {:.2f} recall {:.2f}", a, r);
    return 0;
  }
  if (!o.export_dir.empty()) {
    KVMIX_CHECK(step > 0, "{}: no checkpoint to export", o.out);
    torch::NoGradGuard ng;
    ModelWeights w = m.weights;
    for (auto& sl : tensor_slots(w, m.config)) *sl.tensor = sl.tensor->detach().contiguous();
    save_model(o.export_dir, m.config, w, at::kFloat);
    write_file_atomic(o.export_dir + "/tokenizer.json", tokenizer_json());
    spdlog::info("exported step {} ({} tokens) to {}", step, tokens, o.export_dir);
    return 0;
  }

  const auto docs = brown_documents(load_brown_corpus(brown_corpus_dir()), Split::kTrain);
  TrainingStream stream(docs, o.mix, o.seed);
  fs::create_directories(o.out);  // before the log opens: an ofstream into a missing folder fails silently
  std::ofstream log(o.out + "/loss.csv", std::ios::app);
  KVMIX_CHECK(log.good(), "{}/loss.csv: cannot open for appending", o.out);
  if (step == 0) log << "step,tokens,seq_len,loss,loss_text,loss_arith,loss_recall,lr,tok_per_s\n";

  auto t_last = std::chrono::steady_clock::now();
  int64_t tokens_since = 0;
  const int64_t last = o.stop_at > 0 ? std::min(o.stop_at, o.steps) : o.steps;
  for (; step < last; ++step) {
    const int64_t n = seq_len_at(o.curriculum, step, o.steps);
    const int64_t rows = std::max<int64_t>(1, o.tokens_per_step / n);
    auto tok = torch::empty({rows, n + 1}, torch::kLong);
    auto wts = torch::empty({rows, n}, torch::kFloat);
    std::vector<int> kinds;
    for (int64_t r = 0; r < rows; ++r) {
      auto row = stream.row(static_cast<uint64_t>(step), static_cast<uint64_t>(r), n);
      tok[r].copy_(torch::tensor(row.tokens, torch::kLong));
      wts[r].copy_(torch::tensor(row.loss, torch::kFloat));
      kinds.push_back(row.kind);
    }
    for (auto& g : opt.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr_at(o, step));

    auto logits = forward(m, tok.narrow(1, 0, n), {}, nullptr);  // [rows, n, V]
    auto nll = -torch::log_softmax(logits, -1).gather(-1, tok.narrow(1, 1, n).unsqueeze(-1)).squeeze(-1);
    auto loss = (nll * wts).sum() / wts.sum().clamp_min(1.0);
    opt.zero_grad();
    loss.backward();
    torch::nn::utils::clip_grad_norm_(params, o.clip);
    opt.step();
    tokens += rows * n;
    tokens_since += rows * n;

    // per-kind loss for the log
    double kind_loss[3] = {NAN, NAN, NAN};
    {
      torch::NoGradGuard ng;
      auto per_row = (nll * wts).sum(1) / wts.sum(1).clamp_min(1.0);
      for (int k = 0; k < 3; ++k) {
        double s = 0;
        int c = 0;
        for (int64_t r = 0; r < rows; ++r)
          if (kinds[static_cast<size_t>(r)] == k) s += per_row[r].item<double>(), ++c;
        if (c) kind_loss[k] = s / c;
      }
    }
    const auto now = std::chrono::steady_clock::now();
    const double dt = std::chrono::duration<double>(now - t_last).count();
    const double tps = static_cast<double>(tokens_since) / std::max(dt, 1e-9);
    log << fmt::format("{},{},{},{:.5f},{:.5f},{:.5f},{:.5f},{:.6g},{:.1f}\n", step + 1, tokens, n,
                       loss.item<double>(), kind_loss[0], kind_loss[1], kind_loss[2],
                       lr_at(o, step), tps);
    if ((step + 1) % 10 == 0) {
      spdlog::info("step {}/{} len {} loss {:.4f} (text {:.3f} arith {:.3f} recall {:.3f}) lr {:.2e} {:.0f} tok/s",
                   step + 1, o.steps, n, loss.item<double>(), kind_loss[0], kind_loss[1],
                   kind_loss[2], lr_at(o, step), tps);
      t_last = now;
      tokens_since = 0;
    }
    if ((step + 1) % o.save_every == 0 || step + 1 == last) {
      log.flush();
      save_checkpoint(o, m, opt, step + 1, tokens);
    }
    if ((step + 1) % o.eval_every == 0 || step + 1 == o.steps) {
      auto [a, r] = quick_eval(m, o.eval_samples, n - 16);
      spdlog::info("step {} calibration check: arith {:.2f} recall {:.2f} (recall prompts up to {} bytes)",
                   step + 1, a, r, n - 16);
      std::ofstream ev(o.out + "/evals.csv", std::ios::app);
      ev << fmt::format("{},{},{},{:.4f},{:.4f}\n", step + 1, tokens, n - 16, a, r);
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  TrainOptions o;
  kvmix::keep_freed_memory_for_reuse();
  CLI::App app{"Train kvmix's built-in model (resumes from --out when a checkpoint is there)"};
  app.add_option("--out", o.out, "Checkpoint folder")->capture_default_str();
  app.add_option("--steps", o.steps, "Optimizer steps in all")->capture_default_str();
  app.add_option("--tokens-per-step", o.tokens_per_step, "Tokens per optimizer step")->capture_default_str();
  app.add_option("--lr", o.lr, "Peak learning rate")->capture_default_str();
  app.add_option("--warmup", o.warmup, "Warm-up steps")->capture_default_str();
  app.add_option("--seed", o.seed, "Seed of initialization and data")->capture_default_str();
  app.add_option("--save-every", o.save_every, "Checkpoint every N steps")->capture_default_str();
  app.add_option("--eval-every", o.eval_every, "Calibration check every N steps")->capture_default_str();
  app.add_option("--threads", o.threads, "Intra-op threads")->capture_default_str();
  app.add_option("--init-from", o.init_from, "Warm start from another run's checkpoint folder");
  app.add_option("--curriculum", o.curriculum, "Row length by fraction of steps")->capture_default_str();
  app.add_option("--mix-text", o.mix.text, "Weight of corpus rows")->capture_default_str();
  app.add_option("--mix-arith", o.mix.arith, "Weight of arith rows")->capture_default_str();
  app.add_option("--mix-recall", o.mix.recall, "Weight of recall rows")->capture_default_str();
  app.add_option("--stop-at", o.stop_at, "Stop after this step; the LR and length schedules still span --steps");
  app.add_option("--show", o.show, "Print N calibration generations per task and stop");
  app.add_option("--export", o.export_dir, "Export the checkpoint in the Hugging Face layout and stop");
  CLI11_PARSE(app, argc, argv);
  try {
    return run(o);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
}
