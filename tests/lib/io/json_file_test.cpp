// The journals' one reader: a kill can only tear the last line, so that line alone is forgiven
// (dropped and cut off the file, or ended when only its newline is missing), and whatever comes
// next must append onto a line of its own. Expected files are written out by hand.
#include <catch2/catch.hpp>

#include "lib/io/atomic_file.h"
#include "base/error.h"
#include "lib/io/json_file.h"
#include "tests/temp_dir.h"

using namespace kvmix;

namespace {
std::vector<std::string> dumps(const std::vector<JsonLine>& lines) {
  std::vector<std::string> out;
  for (const auto& l : lines) out.push_back(std::to_string(l.lineno) + " " + l.value.dump());
  return out;
}
}  // namespace

TEST_CASE("json lines: a missing file has no lines and is not created", "[lib][json_file]") {
  test::TempDir dir;
  const std::string path = dir.file("none.jsonl");
  CHECK(read_json_lines_for_append(path).empty());
  CHECK_THROWS_AS(read_file(path), Error);
}

TEST_CASE("json lines: complete lines are read with their line numbers, blanks skipped",
          "[lib][json_file]") {
  test::TempDir dir;
  const std::string path = dir.file("ok.jsonl");
  write_file_atomic(path, "{\"a\":1}\n\n[2,3]\n");
  CHECK(dumps(read_json_lines_for_append(path)) ==
        std::vector<std::string>{"1 {\"a\":1}", "3 [2,3]"});
  CHECK(read_file(path) == "{\"a\":1}\n\n[2,3]\n");  // untouched
}

TEST_CASE("json lines: a torn last line is dropped and cut off the file", "[lib][json_file]") {
  test::TempDir dir;
  const std::string path = dir.file("torn.jsonl");
  write_file_atomic(path, "{\"a\":1}\n{\"b\":[1,2");
  CHECK(dumps(read_json_lines_for_append(path)) == std::vector<std::string>{"1 {\"a\":1}"});
  CHECK(read_file(path) == "{\"a\":1}\n");
  append_line_synced(path, "{\"c\":3}");
  CHECK(dumps(read_json_lines_for_append(path)) ==
        std::vector<std::string>{"1 {\"a\":1}", "2 {\"c\":3}"});
}

TEST_CASE("json lines: a complete last line missing its newline is kept and ended",
          "[lib][json_file]") {
  test::TempDir dir;
  const std::string path = dir.file("unended.jsonl");
  write_file_atomic(path, "{\"a\":1}\n{\"b\":2}");
  CHECK(dumps(read_json_lines_for_append(path)) ==
        std::vector<std::string>{"1 {\"a\":1}", "2 {\"b\":2}"});
  CHECK(read_file(path) == "{\"a\":1}\n{\"b\":2}\n");
}

TEST_CASE("json lines: a torn only line leaves an empty file", "[lib][json_file]") {
  test::TempDir dir;
  const std::string path = dir.file("torn-only.jsonl");
  write_file_atomic(path, "{\"journal\":");
  CHECK(read_json_lines_for_append(path).empty());
  CHECK(read_file(path).empty());
}

TEST_CASE("json lines: a bad line before the last is corruption naming file and line",
          "[lib][json_file]") {
  test::TempDir dir;
  const std::string path = dir.file("corrupt.jsonl");
  const std::string text = "{\"a\":1}\n{oops\n{\"c\":3}\n";
  write_file_atomic(path, text);
  CHECK_THROWS_WITH(read_json_lines_for_append(path),
                    Catch::Contains(path + ":2: corrupt journal line"));
  CHECK(read_file(path) == text);  // an error changes nothing
}
