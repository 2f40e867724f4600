#include "lib/io/json_header.h"

#include <fmt/format.h>

#include "base/error.h"

namespace kvmix {

void check_json_header(const nlohmann::json& j, const std::string& field, const std::string& schema,
                       int64_t version, const std::string& path, const std::string& what) {
  const auto describe = [](const nlohmann::json& v) { return v.dump().substr(0, 80); };
  KVMIX_CHECK(j.is_object(), "{}: not {} (its header is {}, not an object)", path, what, describe(j));
  const auto s = j.find(field);
  KVMIX_CHECK(s != j.end() && s->is_string() && s->get<std::string>() == schema,
              "{}: not {} (field '{}' is {}, expected \"{}\")", path, what, field,
              s == j.end() ? std::string("missing") : describe(*s), schema);
  const auto v = j.find("version");
  KVMIX_CHECK(v != j.end() && v->is_number_integer() && v->get<int64_t>() == version,
              "{}: {} of version {}; this kvmix reads version {}", path, what,
              v == j.end() ? std::string("(missing)") : describe(*v), version);
}

}  // namespace kvmix
