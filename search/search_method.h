#pragma once
// The two search methods (search/front_search.h), parsed once from `--method` or a front file's
// "method" field (DESIGN.md, "Coding habits": names are parsed at the edge).
#include <string>

namespace kvmix {

enum class SearchMethod {
  kKvmix,         // proxy-front seeds, then a corrected proxy picks each evaluation
  // NSGA-II from a random population, KVTuner's recipe, run with pagmo2's NSGA-II at kvmix's
  // population (8 by default). KVTuner's own script runs Optuna's NSGAIISampler at its defaults
  // (population 50); that sampler is driven from Python through `kvmix search --serve`
  // (scripts/python/search_compare.py). The names below stay for the files already written.
  kKvtunerNsga2,
};

// "kvmix", or "kvtuner" / "kvtuner-nsga2". kvmix::UsageError naming the text otherwise.
SearchMethod parse_search_method(const std::string& text);

// As --method spells it ("kvmix", "kvtuner"): journal headers and summaries.
const char* search_method_option(SearchMethod m);

// As front.json records it ("kvmix", "kvtuner-nsga2").
const char* search_method_name(SearchMethod m);

}  // namespace kvmix
