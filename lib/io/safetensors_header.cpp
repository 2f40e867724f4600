#include "lib/io/safetensors_header.h"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "base/error.h"
#include "lib/io/json_describe.h"  // describe_json

namespace kvmix {
namespace {

using nlohmann::json;

struct DtypeRow {
  SafetensorsDtype dtype;
  const char* name;
  int64_t bytes;
};

// The spec's dtype names (safetensors/src/tensor.rs, enum Dtype) and their element sizes.
constexpr DtypeRow kDtypes[] = {
    {SafetensorsDtype::kBool, "BOOL", 1},      {SafetensorsDtype::kU8, "U8", 1},
    {SafetensorsDtype::kI8, "I8", 1},          {SafetensorsDtype::kF8E5M2, "F8_E5M2", 1},
    {SafetensorsDtype::kF8E4M3, "F8_E4M3", 1}, {SafetensorsDtype::kI16, "I16", 2},
    {SafetensorsDtype::kU16, "U16", 2},        {SafetensorsDtype::kF16, "F16", 2},
    {SafetensorsDtype::kBF16, "BF16", 2},      {SafetensorsDtype::kI32, "I32", 4},
    {SafetensorsDtype::kU32, "U32", 4},        {SafetensorsDtype::kF32, "F32", 4},
    {SafetensorsDtype::kF64, "F64", 8},        {SafetensorsDtype::kI64, "I64", 8},
    {SafetensorsDtype::kU64, "U64", 8},
};

const DtypeRow& dtype_row(SafetensorsDtype d) {
  for (const auto& r : kDtypes)
    if (r.dtype == d) return r;
  KVMIX_ASSERT(false, "dtype {} missing from kDtypes", static_cast<int>(d));
}

// The header is a root object, tensor objects, and their shape / offset arrays: depth 3. Deeper
// nesting is malformed, and refusing it early bounds the memory a hostile header can claim.
constexpr int kMaxHeaderJsonDepth = 3;

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Parses the header JSON. nlohmann keeps the last of duplicate keys silently; the spec forbids
// duplicates ("Duplicate keys are disallowed"), and two entries named alike would let a file say
// two different things about one tensor, so a key already seen in its object is an error.
json parse_header_json(const char* begin, const char* end, const std::string& source) {
  std::vector<std::set<std::string>> open_objects;
  auto on_event = [&](int depth, json::parse_event_t event, json& parsed) {
    if (depth > kMaxHeaderJsonDepth)
      throw Error(fmt::format("{}: safetensors header nests JSON deeper than {} levels", source,
                              kMaxHeaderJsonDepth));
    if (event == json::parse_event_t::object_start) open_objects.emplace_back();
    if (event == json::parse_event_t::object_end) open_objects.pop_back();
    if (event == json::parse_event_t::key &&
        !open_objects.back().insert(parsed.get<std::string>()).second)
      throw Error(fmt::format("{}: safetensors header has the key '{}' twice in one object", source,
                              parsed.get<std::string>()));
    return true;
  };
  try {
    return json::parse(begin, end, on_event);
  } catch (const json::exception& e) {
    throw Error(fmt::format("{}: safetensors header is not valid JSON: {}", source, e.what()));
  }
}

std::map<std::string, std::string> parse_metadata(const json& m, const std::string& source) {
  KVMIX_CHECK(m.is_object(), "{}: __metadata__ must be an object of strings, got {}", source,
              describe_json(m));
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : m.items()) {
    KVMIX_CHECK(v.is_string(), "{}: __metadata__ value '{}' must be a string, got {}", source, k,
                describe_json(v));
    out.emplace(k, v.get<std::string>());
  }
  return out;
}

uint64_t unsigned_field(const json& v, const std::string& what, const std::string& name,
                        const std::string& source) {
  KVMIX_CHECK(v.is_number_unsigned(), "{}: tensor '{}': {} must be a non-negative integer, got {}",
              source, name, what, describe_json(v));
  return v.get<uint64_t>();
}

// One tensor entry, checked against itself and the byte buffer's size. Overflow-checked
// throughout: a lying shape must not wrap around to a size that happens to match its offsets.
SafetensorsEntry parse_entry(const std::string& name, const json& v, uint64_t buffer_bytes,
                             const std::string& source) {
  KVMIX_CHECK(v.is_object(), "{}: tensor '{}': entry must be an object, got {}", source, name,
              describe_json(v));
  for (const auto& [k, unused] : v.items())
    KVMIX_CHECK(k == "dtype" || k == "shape" || k == "data_offsets",
                "{}: tensor '{}': unknown key '{}' (the spec has dtype, shape, data_offsets)",
                source, name, k);
  KVMIX_CHECK(v.contains("dtype") && v.contains("shape") && v.contains("data_offsets"),
              "{}: tensor '{}': entry needs dtype, shape and data_offsets", source, name);

  const json& jd = v["dtype"];
  KVMIX_CHECK(jd.is_string(), "{}: tensor '{}': dtype must be a string, got {}", source, name,
              describe_json(jd));
  const auto dtype = parse_safetensors_dtype(jd.get<std::string>());
  KVMIX_CHECK(dtype.has_value(), "{}: tensor '{}': unknown dtype {}", source, name,
              describe_json(jd));

  SafetensorsEntry e{*dtype, {}, 0, 0};
  const json& js = v["shape"];
  KVMIX_CHECK(js.is_array(), "{}: tensor '{}': shape must be an array, got {}", source, name,
              describe_json(js));
  uint64_t numel = 1;
  bool overflow = false;
  for (const json& d : js) {
    const uint64_t dim = unsigned_field(d, "every shape dim", name, source);
    KVMIX_CHECK(dim <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()),
                "{}: tensor '{}': shape dim {} is too large", source, name, dim);
    e.shape.push_back(static_cast<int64_t>(dim));
    overflow |= __builtin_mul_overflow(numel, dim, &numel);
  }
  const bool empty = std::count(e.shape.begin(), e.shape.end(), int64_t{0}) > 0;
  uint64_t bytes = 0;
  if (!empty) overflow |= __builtin_mul_overflow(numel, safetensors_dtype_bytes(e.dtype), &bytes);
  KVMIX_CHECK(empty || !overflow, "{}: tensor '{}': shape [{}] overflows 64-bit byte counts",
              source, name, fmt::join(e.shape, ", "));

  const json& jo = v["data_offsets"];
  KVMIX_CHECK(jo.is_array() && jo.size() == 2,
              "{}: tensor '{}': data_offsets must be [BEGIN, END], got {}", source, name,
              describe_json(jo));
  e.begin = unsigned_field(jo[0], "data_offsets BEGIN", name, source);
  e.end = unsigned_field(jo[1], "data_offsets END", name, source);
  KVMIX_CHECK(e.begin <= e.end, "{}: tensor '{}': data_offsets [{}, {}] begin after they end",
              source, name, e.begin, e.end);
  KVMIX_CHECK(e.end <= buffer_bytes,
              "{}: tensor '{}': data_offsets [{}, {}] run past the {}-byte data buffer "
              "(truncated file or lying header)",
              source, name, e.begin, e.end, buffer_bytes);
  KVMIX_CHECK(e.end - e.begin == bytes,
              "{}: tensor '{}': data_offsets [{}, {}] hold {} bytes but shape [{}] of {} needs {}",
              source, name, e.begin, e.end, e.end - e.begin, fmt::join(e.shape, ", "),
              safetensors_dtype_name(e.dtype), bytes);
  return e;
}

// The spec requires the byte buffer to be entirely indexed, without holes or overlaps (README:
// "the byte buffer needs to be entirely indexed, and cannot contain holes. This prevents the
// creation of polyglot files"). Sorting by offsets turns both checks into one walk.
void check_coverage(const std::map<std::string, SafetensorsEntry>& tensors, uint64_t buffer_bytes,
                    const std::string& source) {
  std::vector<const std::pair<const std::string, SafetensorsEntry>*> order;
  for (const auto& t : tensors) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) {
    return std::tie(a->second.begin, a->second.end) < std::tie(b->second.begin, b->second.end);
  });
  uint64_t covered = 0;
  const std::string* previous = nullptr;
  for (const auto* t : order) {
    const SafetensorsEntry& e = t->second;
    KVMIX_CHECK(e.begin >= covered,
                "{}: tensors '{}' and '{}' overlap (data_offsets [{}, {}] start before byte {})",
                source, previous ? *previous : std::string(), t->first, e.begin, e.end, covered);
    KVMIX_CHECK(e.begin == covered,
                "{}: bytes [{}, {}) of the data buffer belong to no tensor (a hole before '{}')",
                source, covered, e.begin, t->first);
    covered = e.end;
    previous = &t->first;
  }
  KVMIX_CHECK(covered == buffer_bytes,
              "{}: bytes [{}, {}) at the end of the data buffer belong to no tensor", source,
              covered, buffer_bytes);
}

}  // namespace

const char* safetensors_dtype_name(SafetensorsDtype d) { return dtype_row(d).name; }

int64_t safetensors_dtype_bytes(SafetensorsDtype d) { return dtype_row(d).bytes; }

std::optional<SafetensorsDtype> parse_safetensors_dtype(const std::string& name) {
  for (const auto& r : kDtypes)
    if (name == r.name) return r.dtype;
  return std::nullopt;
}

SafetensorsHeader parse_safetensors_header(const uint8_t* file, uint64_t file_size,
                                           const std::string& source) {
  KVMIX_CHECK(file_size >= 8,
              "{}: {} bytes is too short for a safetensors file (its header length takes 8)",
              source, file_size);
  const uint64_t n = read_u64_le(file);
  KVMIX_CHECK(n <= file_size - 8,
              "{}: header length {} runs past the end of the {}-byte file (truncated, or not a "
              "safetensors file)",
              source, n, file_size);
  KVMIX_CHECK(n <= kSafetensorsMaxHeaderBytes, "{}: header length {} exceeds the {}-byte limit",
              source, n, kSafetensorsMaxHeaderBytes);
  KVMIX_CHECK(n > 0 && file[8] == '{',
              "{}: the header does not start with '{{' (spec: a JSON object)", source);

  const char* text = reinterpret_cast<const char*>(file + 8);
  const json j = parse_header_json(text, text + n, source);
  KVMIX_CHECK(j.is_object(), "{}: the header is not a JSON object", source);

  SafetensorsHeader h;
  h.data_start = 8 + n;
  const uint64_t buffer_bytes = file_size - h.data_start;
  for (const auto& [name, v] : j.items()) {
    if (name == "__metadata__")
      h.metadata = parse_metadata(v, source);
    else
      h.tensors.emplace(name, parse_entry(name, v, buffer_bytes, source));
  }
  check_coverage(h.tensors, buffer_bytes, source);
  return h;
}

}  // namespace kvmix
