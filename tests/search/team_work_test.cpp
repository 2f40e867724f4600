// search/team_work.h in a team of one (the MPI ranks are tests/search/mpi_ranks_test.py's): items
// run in order through the same function a rank would use, a stop leaves the rest null, and the
// cache keeps what it should.
#include <catch2/catch.hpp>

#include <atomic>

#include "lib/policies/make_policy.h"
#include "search/task_data.h"
#include "search/team_work.h"
#include "tests/search/byte_model.h"

namespace kvmix {
namespace {

TaskData small_task() {
  TaskData d;
  d.name = "t";
  d.generative = true;
  d.scoring = AnswerScoring::kLastNumber;
  d.max_new_tokens = 7;
  d.prompts = {{1, 2, 3}, {4}};
  d.continuations = {{5}, {}};
  d.answers = {"12", "x"};
  return d;
}

}  // namespace

TEST_CASE("team work: task data and policy options survive their JSON form", "[search]") {
  const TaskData d = small_task();
  const TaskData back = task_data_from_json(nlohmann::json::from_cbor(nlohmann::json::to_cbor(task_data_to_json(d))), "x");
  CHECK(back.name == d.name);
  CHECK(back.generative == d.generative);
  CHECK(back.scoring == d.scoring);
  CHECK(back.max_new_tokens == d.max_new_tokens);
  CHECK(back.prompts == d.prompts);
  CHECK(back.continuations == d.continuations);
  CHECK(back.answers == d.answers);
  auto bad = task_data_to_json(d);
  bad["answers"] = {"only one"};
  CHECK_THROWS_WITH(task_data_from_json(bad, "item 3"), Catch::Contains("item 3") && Catch::Contains("answers"));

  PolicyOptions o;
  o.streaming.sinks = 7;
  o.streaming.cache_positions = true;
  o.snapkv.window = 33;
  o.mikv.balancer = false;
  o.zipvl.tau = 0.9;
  o.vidkv.value_group = 16;
  const PolicyOptions p = policy_options_from_json(policy_options_to_json(o), "x");
  CHECK(policy_options_to_json(p) == policy_options_to_json(o));
  CHECK(p.streaming.sinks == 7);
  CHECK(p.streaming.cache_positions);
  CHECK(p.snapkv.window == 33);
  CHECK_FALSE(p.mikv.balancer);
  CHECK(p.zipvl.tau == 0.9);
  CHECK(p.vidkv.value_group == 16);
}

TEST_CASE("team work: a cache tells objects of one key apart by type, and a slot holds one", "[search]") {
  WorkCache c;
  int made = 0;
  const auto a = c.get<int>("k", [&] { return ++made, 5; });
  const auto b = c.get<double>("k", [&] { return ++made, 2.5; });
  CHECK(*a == 5);
  CHECK(*b == 2.5);
  CHECK(*c.get<int>("k", [&] { return ++made, 6; }) == 5);
  CHECK(made == 2);
  const auto s1 = c.latest<int>("slot", "one", [] { return 1; });
  CHECK(*c.latest<int>("slot", "one", [] { return 9; }) == 1);
  CHECK(*c.latest<int>("slot", "two", [] { return 2; }) == 2);
  CHECK(*s1 == 1);  // still held by its user after the slot moved on
}

TEST_CASE("team work: in a team of one, items run in order and a stop leaves the rest null", "[search]") {
  const Model m = test::random_model(test::byte_model_config());
  const Tokenizer& tok = test::byte_tokenizer();
  WorkCache cache;
  // An unknown kind is an error naming it, from the same dispatcher every rank uses.
  CHECK_THROWS_WITH(share_work(m, tok, cache, {{{"kind", "nonsense"}}}, nullptr),
                    Catch::Contains("unknown kind 'nonsense'"));
  std::vector<nlohmann::json> items(3, {{"kind", "nonsense"}});
  std::atomic<bool> stop{true};
  std::vector<size_t> done;
  const auto r = share_work(m, tok, cache, items, &stop, [&](size_t i, const nlohmann::json&) { done.push_back(i); });
  REQUIRE(r.size() == 3);
  for (const auto& x : r) CHECK(x.is_null());
  CHECK(done.empty());
}

}  // namespace kvmix
