#include "lib/io/json_schema.h"

#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validator.hpp>

#include "base/error.h"

namespace kvmix {

void validate_against_schema(const nlohmann::json& doc, const char* schema_json,
                             const std::string& source) {
  const auto schema_doc = nlohmann::json::parse(schema_json);
  valijson::Schema schema;
  valijson::SchemaParser parser;
  valijson::adapters::NlohmannJsonAdapter schema_adapter(schema_doc);
  parser.populateSchema(schema_adapter, schema);

  valijson::Validator validator;
  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter target(doc);
  if (validator.validate(schema, target, &results)) return;

  std::string msg;
  valijson::ValidationResults::Error e;
  int shown = 0;
  while (results.popError(e) && shown < 4) {
    std::string path;
    for (const auto& c : e.context) path += c == "<root>" ? "" : c;
    msg += fmt::format("\n  at {}: {}", path.empty() ? "/" : path, e.description);
    ++shown;
  }
  throw Error(fmt::format("{}: does not follow its schema:{}", source, msg));
}

}  // namespace kvmix
