// User task files that are not UTF-8 are refused naming the file and the line; the tokenizer alone
// once refused them naming neither. The Brown corpus reader checks its files the same way.
#include "search/task_data.h"

#include <catch2/catch.hpp>

#include "base/error.h"
#include "lib/tasks/corpus.h"
#include "tests/search/byte_model.h"
#include "tests/temp_dir.h"

using namespace kvmix;
using Catch::Contains;

TEST_CASE("task data files that are not UTF-8 are refused naming the file and line", "[task_data]") {
  test::TempDir dir;
  const std::string txt = dir.file("latin1.txt");
  test::write_bytes(txt, "first line\ncaf\xE9 au lait\n");
  CHECK_THROWS_WITH(prepare_task(parse_task(txt, Split::kHeldOut, 1), test::byte_tokenizer()),
                    Contains(txt + ":2: not valid UTF-8") && Contains("0xE9"));

  const std::string jsonl = dir.file("latin1.jsonl");
  test::write_bytes(jsonl, "{\"prompt\": \"1+1=\", \"answer\": \"2\"}\n"
                           "{\"prompt\": \"caf\xE9\", \"answer\": \"x\"}\n");
  CHECK_THROWS_WITH(prepare_task(parse_task(jsonl, Split::kHeldOut, 4), test::byte_tokenizer()),
                    Contains(jsonl + ":2: not valid UTF-8"));
}

TEST_CASE("a corpus document that is not UTF-8 is refused naming it", "[task_data]") {
  test::TempDir dir;
  test::write_bytes(dir.file("ca01"), "The/at jury/nn said/vbd ./.\n");
  test::write_bytes(dir.file("ca02"), "A/at caf\xE9/nn ./.\n");
  CHECK_THROWS_WITH(load_brown_corpus(dir.path()),
                    Contains(dir.file("ca02") + ":1: not valid UTF-8"));
}
