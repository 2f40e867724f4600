// Readers of outside files refuse what is not a regular file before opening it: open() on a FIFO
// blocks until a writer appears (kvmix hung), and a folder "opens" and then reads as nothing.
// An alarm turns a regression (a reader blocking on the FIFO) into a failed run, not a stuck one.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <filesystem>

#include "base/error.h"
#include "lib/export/kvtuner_yaml.h"
#include "lib/io/atomic_file.h"
#include "lib/io/json_file.h"
#include "lib/io/paths.h"
#include "lib/tokenizer/tokenizer.h"
#include "models/loader.h"
#include "tests/lib/export/small_config.h"
#include "tests/temp_dir.h"

using namespace kvmix;
using Catch::Contains;

namespace {

// Fails the whole run (SIGALRM) if a reader blocks for 30 s.
struct Watchdog {
  Watchdog() { ::alarm(30); }
  ~Watchdog() { ::alarm(0); }
};

// The message of the kvmix::Error `f` throws; "" when it throws none.
template <typename F>
std::string error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("readers refuse a FIFO without blocking, naming it", "[lib][paths]") {
  const Watchdog watchdog;
  test::TempDir dir;
  const std::string fifo = dir.file("config.json");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  for (const std::string& message : {
           error_of([&] { check_regular_file(fifo, "config.json"); }),
           error_of([&] { read_file(fifo); }),
           error_of([&] { read_json_file(fifo); }),
           error_of([&] { Tokenizer::from_file(fifo); }),
           error_of([&] { load_kvtuner_preset(fifo, Scheme::kKivi, test::small_shape()); }),
       })
    CHECK_THAT(message, Contains(fifo) && Contains("is a FIFO, not a regular file"));

  // A checkpoint whose weights are a FIFO: config.json is read, the weights refused.
  const std::string model = dir.file("model");
  std::filesystem::create_directories(model);
  std::filesystem::copy_file(KVMIX_SOURCE_DIR "/tests/fixtures/models/llama-3.1-8b/config.json",
                             model + "/config.json");
  const std::string weights = model + "/model.safetensors";
  REQUIRE(::mkfifo(weights.c_str(), 0600) == 0);
  CHECK_THROWS_WITH(load_model(model, at::kFloat),
                    Contains(weights) && Contains("a FIFO, not a regular file"));
}

TEST_CASE("readers refuse a folder given for a file, naming it", "[lib][paths]") {
  test::TempDir dir;
  const std::string folder = dir.file("tokenizer.json");
  std::filesystem::create_directories(folder);
  for (const std::string& message : {
           error_of([&] { read_file(folder); }),
           error_of([&] { read_json_file(folder); }),
           error_of([&] { Tokenizer::from_file(folder); }),
       })
    CHECK_THAT(message, Contains(folder) && Contains("is a folder, not a regular file"));
  // A missing file keeps its own message.
  CHECK_THROWS_WITH(read_file(dir.file("none.json")),
                    Contains("none.json") && Contains("No such file"));
}

TEST_CASE("same_file: one file under two names, and paths not yet created", "[lib][paths]") {
  test::TempDir dir;
  const std::string a = dir.file("a.json");
  write_file_atomic(a, "{}\n");
  std::filesystem::create_symlink(a, dir.file("link.json"));
  CHECK(same_file(a, dir.file("link.json")));
  CHECK(same_file(a, dir.path() + "/./sub/../a.json"));
  CHECK(same_file(dir.file("new.json"), dir.path() + "/./new.json"));  // neither exists yet
  CHECK(!same_file(a, dir.file("b.json")));
}
