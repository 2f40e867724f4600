#include "lib/io/identity_diff.h"

#include <set>

#include "lib/io/json_describe.h"

namespace kvmix {

namespace {

std::string shown(const nlohmann::json& v) {
  // Short arrays of scalars (pair lists, task lists) are worth showing in full.
  if (v.is_array() && v.size() <= 16) {
    bool scalars = true;
    for (const auto& x : v) scalars = scalars && !x.is_structured();
    if (scalars) {
      std::string s = "[";
      for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + describe_json(v[i]);
      return s + "]";
    }
  }
  return describe_json(v);
}

}  // namespace

std::string identity_changes(const nlohmann::json& was, const nlohmann::json& now) {
  if (was == now) return "";
  if (!was.is_object() || !now.is_object()) return "was " + shown(was) + ", now " + shown(now);
  std::set<std::string> keys;
  for (auto it = was.begin(); it != was.end(); ++it) keys.insert(it.key());
  for (auto it = now.begin(); it != now.end(); ++it) keys.insert(it.key());
  std::string out;
  for (const auto& k : keys) {
    const bool a = was.contains(k), b = now.contains(k);
    if (a && b && was.at(k) == now.at(k)) continue;
    if (!out.empty()) out += "; ";
    out += describe_json(k) + ": ";
    if (!a) out += "not recorded before, now " + shown(now.at(k));
    else if (!b) out += "was " + shown(was.at(k)) + ", not given now";
    else out += "was " + shown(was.at(k)) + ", now " + shown(now.at(k));
  }
  return out;
}

}  // namespace kvmix
