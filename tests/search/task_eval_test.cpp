// evaluate_task's guards: a decode chunk or batch below 1 is refused before any work (a chunk of 0
// once spun forever), prompts past the model's context are evaluated with one warning, and a stop
// request (Ctrl-C) ends the evaluation within one batch.
#include <catch2/catch.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <sstream>
#include <stdexcept>

#include "base/error.h"
#include "lib/cache/full_kv_cache.h"
#include "models/model_kv_shape.h"
#include "search/task_eval.h"
#include "tests/models/random_model.h"
#include "tests/search/byte_model.h"

using namespace kvmix;
using Catch::Contains;

namespace {

// One sample: a prompt of `prompt` tokens and a continuation of 3.
TaskData one_sample(int64_t prompt) {
  TaskData d;
  d.name = "tiny beyond context";  // warned once per task name in a process: one of its own
  d.prompts = {std::vector<int64_t>(static_cast<size_t>(prompt), 5)};
  d.continuations = {{6, 7, 8}};
  d.answers = {""};
  return d;
}

}  // namespace

TEST_CASE("evaluation refuses a decode chunk or a batch below 1 before any work", "[task_eval]") {
  const Model m = test::random_model(test::byte_model_config());
  const TaskData d = one_sample(4);
  // The checks come first: a cache made means work started (and, with a chunk of 0, a loop
  // that never advances).
  const CacheFactory no_cache = []() -> std::unique_ptr<KvCache> {
    throw std::logic_error("a cache was made before the options were checked");
  };
  for (int64_t chunk : {int64_t{0}, int64_t{-1}}) {
    EvalOptions opt;
    opt.decode_chunk = chunk;
    CHECK_THROWS_WITH(evaluate_task(m, test::byte_tokenizer(), d, no_cache, opt, nullptr, nullptr),
                      Contains("decode chunk must be at least 1"));
    CHECK_THROWS_WITH(teacher_forced_logprobs(m, d, no_cache, opt, nullptr, nullptr),
                      Contains("decode chunk must be at least 1"));
  }
  for (int64_t batch : {int64_t{0}, int64_t{-5}}) {
    EvalOptions opt;
    opt.batch = batch;
    CHECK_THROWS_WITH(evaluate_task(m, test::byte_tokenizer(), d, no_cache, opt, nullptr, nullptr),
                      Contains("batch must be at least 1"));
  }
}

TEST_CASE("prompts longer than the model's context are evaluated with one warning",
          "[task_eval]") {
  ModelConfig cfg = test::byte_model_config();
  cfg.max_position_embeddings = 8;  // the sample below needs 12 + 3 positions
  const Model m = test::random_model(cfg);
  const TaskData d = one_sample(12);
  const CacheFactory full = [&] { return std::make_unique<FullKvCache>(kv_shape(cfg)); };

  std::ostringstream log;
  auto logger = std::make_shared<spdlog::logger>(
      "task_eval_test", std::make_shared<spdlog::sinks::ostream_sink_st>(log));
  const auto previous = spdlog::default_logger();
  spdlog::set_default_logger(logger);
  EvalOptions opt;
  opt.progress = false;
  std::vector<at::Tensor> lp, again;
  try {
    lp = teacher_forced_logprobs(m, d, full, opt, nullptr, nullptr);
    again = teacher_forced_logprobs(m, d, full, opt, nullptr, nullptr);
  } catch (...) {
    spdlog::set_default_logger(previous);
    throw;
  }
  spdlog::set_default_logger(previous);

  REQUIRE(lp.size() == 1);
  CHECK(lp[0].size(0) == 3);  // evaluated all the same
  const std::string text = log.str();
  CHECK_THAT(text, Contains("max_position_embeddings 8") && Contains("task tiny beyond context") &&
                       Contains("15 positions"));
  // Once per task: the second pass (another config, in a real run) adds nothing.
  CHECK(text.find("max_position_embeddings") == text.rfind("max_position_embeddings"));
}

TEST_CASE("a stop request ends the evaluation within one batch", "[task_eval]") {
  const ModelConfig cfg = test::byte_model_config();
  const Model m = test::random_model(cfg);
  TaskData d;
  d.name = "four batches";
  for (int i = 0; i < 4; ++i) {
    d.prompts.push_back({5, 6, 7});
    d.continuations.push_back({8, 9});
    d.answers.push_back("");
  }
  std::atomic<bool> stop{false};
  int caches = 0;
  // The stop arrives while the first batch runs (Ctrl-C during a forward pass): that batch ends,
  // no second one starts.
  const CacheFactory stop_in_first = [&] {
    ++caches;
    stop = true;
    return std::make_unique<FullKvCache>(kv_shape(cfg));
  };
  EvalOptions opt;
  opt.batch = 1;
  opt.progress = false;
  opt.stop = &stop;
  CHECK_THROWS_AS(evaluate_task(m, test::byte_tokenizer(), d, stop_in_first, opt, nullptr, nullptr),
                  Interrupted);
  CHECK(caches == 1);
  // Without a stop the same call makes one cache per batch (and per generation batch).
  stop = false;
  caches = 0;
  const CacheFactory counting = [&] {
    ++caches;
    return std::make_unique<FullKvCache>(kv_shape(cfg));
  };
  opt.generate = false;
  (void)evaluate_task(m, test::byte_tokenizer(), d, counting, opt, nullptr, nullptr);
  CHECK(caches == 4);
}
