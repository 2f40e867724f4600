// The safetensors reader and writer: exact round trips, the byte layout the spec fixes, and one
// hand-built damaged file per check the header parser makes.
#include "lib/io/safetensors.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <catch2/catch.hpp>

#include "base/error.h"
#include "tests/temp_dir.h"

using namespace kvmix;
using Catch::Contains;
using test::read_bytes;
using test::TempDir;
using test::write_bytes;

namespace {

// A safetensors file assembled byte by byte: 8-byte little-endian length, header, data.
std::string safetensors_bytes(const std::string& header, const std::string& data,
                              uint64_t length_override = UINT64_MAX) {
  const uint64_t n = length_override == UINT64_MAX ? header.size() : length_override;
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  return out + header + data;
}

// Writes `bytes` as a file and opens it; the error tests expect this to throw.
void open_bytes(const TempDir& dir, const std::string& bytes) {
  write_bytes(dir.file("bad.safetensors"), bytes);
  SafetensorsFile f(dir.file("bad.safetensors"));
}

at::Tensor random_tensor(std::vector<int64_t> shape, at::ScalarType dtype, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randn(shape, gen, at::TensorOptions().dtype(at::kFloat)).to(dtype);
}

}  // namespace

TEST_CASE("safetensors round-trips F32, F16 and BF16 exactly", "[safetensors]") {
  TempDir dir;
  const std::vector<NamedTensor> tensors = {
      {"a.f32", random_tensor({3, 5}, at::kFloat, 1)},
      {"b.f16", random_tensor({7}, at::kHalf, 2)},
      {"c.bf16", random_tensor({2, 3, 4}, at::kBFloat16, 3)},
      {"scalar", random_tensor({}, at::kFloat, 4)},
      {"empty", at::zeros({0, 3}, at::kHalf)},
      {"strided", random_tensor({4, 6}, at::kFloat, 5).t()},  // non-contiguous input
  };
  write_safetensors(dir.file("t.safetensors"), tensors, {{"format", "pt"}, {"note", "x"}});

  SafetensorsFile f(dir.file("t.safetensors"));
  CHECK(f.header().metadata == std::map<std::string, std::string>{{"format", "pt"}, {"note", "x"}});
  REQUIRE(f.header().tensors.size() == tensors.size());
  for (const auto& [name, t] : tensors) {
    INFO(name);
    const at::Tensor r = f.read(name);
    CHECK(r.scalar_type() == t.scalar_type());
    CHECK(r.sizes() == t.sizes());
    CHECK(r.equal(t));
  }
}

TEST_CASE("safetensors writer converts to the storage dtype", "[safetensors]") {
  TempDir dir;
  const at::Tensor t = random_tensor({4, 4}, at::kFloat, 7);
  write_safetensors(dir.file("t.safetensors"), {{"w", t}}, {}, at::kBFloat16);
  SafetensorsFile f(dir.file("t.safetensors"));
  CHECK(f.entry("w").dtype == SafetensorsDtype::kBF16);
  CHECK(f.read("w").equal(t.to(at::kBFloat16)));
}

TEST_CASE("safetensors files have the spec's byte layout", "[safetensors]") {
  TempDir dir;
  write_safetensors(dir.file("t.safetensors"),
                    {{"h", at::ones({3}, at::kHalf)}, {"f", at::ones({2}, at::kFloat)}});
  const std::string bytes = read_bytes(dir.file("t.safetensors"));
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(bytes[i]);
  CHECK(bytes[8] == '{');
  CHECK((8 + n) % 8 == 0);  // the byte buffer starts 8-aligned
  CHECK(bytes.size() == 8 + n + 2 * 4 + 3 * 2);
  SafetensorsFile f(dir.file("t.safetensors"));
  CHECK(f.entry("f").begin == 0);  // 4-byte elements first, so each is aligned
  CHECK(f.entry("h").begin == 8);
}

TEST_CASE("safetensors writer produces the exact bytes the spec describes", "[safetensors]") {
  TempDir dir;
  const at::Tensor f = at::tensor({1.0f, -2.0f});
  write_safetensors(
      dir.file("t.safetensors"),
      {{"h", at::ones({1}, at::kHalf)}, {"b", at::ones({1}, at::kBFloat16)}, {"f", f}},
      {{"format", "pt"}});
  // Built by hand from the spec: F32 first (larger elements first); the 195-byte header padded
  // with spaces to 200 (8 + 200 is a multiple of 8); then 1.0f = 0x3f800000, -2.0f = 0xc0000000,
  // fp16 1.0 = 0x3c00 and bf16 1.0 = 0x3f80, all little-endian.
  const std::string header =
      R"({"__metadata__":{"format":"pt"},"f":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("h":{"dtype":"F16","shape":[1],"data_offsets":[8,10]},)"
      R"("b":{"dtype":"BF16","shape":[1],"data_offsets":[10,12]}})";
  const std::string padded = header + std::string(200 - header.size(), ' ');
  const std::string data("\x00\x00\x80\x3f\x00\x00\x00\xc0\x00\x3c\x80\x3f", 12);
  CHECK(read_bytes(dir.file("t.safetensors")) == safetensors_bytes(padded, data));
}

TEST_CASE("safetensors writer refuses what the format cannot hold", "[safetensors]") {
  TempDir dir;
  const std::string path = dir.file("t.safetensors");
  CHECK_THROWS_WITH(write_safetensors(path, {{"x", at::ones({2})}, {"x", at::ones({2})}}),
                    Contains("tensor 'x' given twice"));
  CHECK_THROWS_WITH(write_safetensors(path, {{"ids", at::ones({2}, at::kLong)}}),
                    Contains("tensor 'ids'") && Contains("cannot be stored"));
  CHECK_THROWS_WITH(write_safetensors(path, {{"__metadata__", at::ones({2})}}),
                    Contains("reserved"));
  CHECK_FALSE(std::filesystem::exists(path));  // nothing half-written left behind
}

TEST_CASE("safetensors reader refuses integer dtypes by name", "[safetensors]") {
  TempDir dir;
  const std::string path = dir.file("i8.safetensors");
  write_bytes(path, safetensors_bytes(R"({"x":{"dtype":"I8","shape":[2],"data_offsets":[0,2]}})",
                                      std::string(2, '\0')));
  SafetensorsFile f(path);  // the header is valid: only reading the tensor is refused
  CHECK_THROWS_WITH(f.read("x"), Contains("tensor 'x' in " + path +
                                          " has dtype I8, which kvmix "
                                          "does not read"));
  CHECK_THROWS_WITH(f.read("y"), Contains(path) && Contains("no tensor 'y'"));
}

TEST_CASE("safetensors reader rejects damaged files with a named error", "[safetensors]") {
  TempDir dir;
  const std::string path = dir.file("bad.safetensors");
  const std::string eight(8, '\0');
  auto entry = [](const std::string& name, const std::string& shape, const std::string& offsets) {
    return "\"" + name + R"(":{"dtype":"F32","shape":)" + shape + R"(,"data_offsets":)" + offsets +
           "}";
  };
  struct Case {
    const char* what;
    std::string bytes;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"empty file", "", "too short"},
      {"header length past the end", safetensors_bytes("{}", "", 4096), "runs past the end"},
      {"truncated data", safetensors_bytes("{" + entry("w", "[4]", "[0,16]") + "}", eight),
       "tensor 'w': data_offsets [0, 16] run past the 8-byte data buffer"},
      {"offsets out of range", safetensors_bytes("{" + entry("w", "[2]", "[100,108]") + "}", eight),
       "tensor 'w': data_offsets [100, 108] run past"},
      {"begin after end", safetensors_bytes("{" + entry("w", "[0]", "[8,0]") + "}", eight),
       "tensor 'w': data_offsets [8, 0] begin after they end"},
      {"size disagrees with shape",
       safetensors_bytes("{" + entry("w", "[3]", "[0,8]") + "}", eight),
       "tensor 'w': data_offsets [0, 8] hold 8 bytes but shape [3] of F32 needs 12"},
      {"overlapping tensors",
       safetensors_bytes("{" + entry("a", "[2]", "[0,8]") + "," + entry("b", "[1]", "[4,8]") + "}",
                         eight),
       "tensors 'a' and 'b' overlap"},
      {"hole between tensors",
       safetensors_bytes("{" + entry("a", "[1]", "[0,4]") + "," + entry("b", "[0]", "[8,8]") + "}",
                         eight),
       "bytes [4, 8) of the data buffer belong to no tensor"},
      {"trailing bytes", safetensors_bytes("{" + entry("a", "[1]", "[0,4]") + "}", eight),
       "bytes [4, 8) at the end of the data buffer belong to no tensor"},
      {"duplicate names",
       safetensors_bytes("{" + entry("a", "[1]", "[0,4]") + "," + entry("a", "[1]", "[4,8]") + "}",
                         eight),
       "the key 'a' twice"},
      {"negative dim", safetensors_bytes("{" + entry("w", "[-2]", "[0,8]") + "}", eight),
       "tensor 'w': every shape dim must be a non-negative integer, got -2"},
      {"fractional dim", safetensors_bytes("{" + entry("w", "[2.0]", "[0,8]") + "}", eight),
       "tensor 'w': every shape dim must be a non-negative integer, got 2.0"},
      {"shape overflowing 64 bits",
       safetensors_bytes("{" + entry("w", "[4294967296,4294967296]", "[0,8]") + "}", eight),
       "tensor 'w': shape [4294967296, 4294967296] overflows"},
      {"unknown dtype",
       safetensors_bytes(R"({"w":{"dtype":"Q7","shape":[8],"data_offsets":[0,8]}})", eight),
       "tensor 'w': unknown dtype \"Q7\""},
      {"missing data_offsets", safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2]}})", eight),
       "tensor 'w': entry needs dtype, shape and data_offsets"},
      {"unknown entry key",
       safetensors_bytes("{" + entry("w", "[2]", "[0,8]").insert(5, R"("crc":1,)") + "}", eight),
       "tensor 'w': unknown key 'crc'"},
      {"metadata not strings", safetensors_bytes(R"({"__metadata__":{"n":3}})", ""),
       "__metadata__ value 'n' must be a string, got 3"},
      {"not JSON", safetensors_bytes("{\"w\":", eight), "header is not valid JSON"},
      {"not an object", safetensors_bytes("[1,2]", ""), "does not start with '{'"},
      {"too deep", safetensors_bytes(R"({"w":{"shape":[[[1]]]}})", ""), "deeper than 3 levels"},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    CHECK_THROWS_WITH(open_bytes(dir, c.bytes), Contains(path) && Contains(c.message));
  }
}

TEST_CASE("safetensors accepts space padding and metadata only", "[safetensors]") {
  TempDir dir;
  write_bytes(dir.file("m.safetensors"), safetensors_bytes(R"({"__metadata__":{"k":"v"}}   )", ""));
  SafetensorsFile f(dir.file("m.safetensors"));
  CHECK(f.header().tensors.empty());
  CHECK(f.header().metadata.at("k") == "v");
}
