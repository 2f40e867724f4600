#include "search/search_method.h"

#include "base/error.h"

namespace kvmix {

SearchMethod parse_search_method(const std::string& text) {
  if (text == "kvmix") return SearchMethod::kKvmix;
  if (text == "kvtuner" || text == "kvtuner-nsga2") return SearchMethod::kKvtunerNsga2;
  throw UsageError("unknown search method '" + text + "' (expected kvmix or kvtuner)");
}

const char* search_method_option(SearchMethod m) {
  return m == SearchMethod::kKvmix ? "kvmix" : "kvtuner";
}

const char* search_method_name(SearchMethod m) {
  return m == SearchMethod::kKvmix ? "kvmix" : "kvtuner-nsga2";
}

}  // namespace kvmix
