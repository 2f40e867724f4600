// libFuzzer target: prepare_task on a user task file (`--tasks F.txt` for perplexity windows,
// `--tasks F.jsonl` for prompt/answer lines), tokenized with the built-in model's tokenizer. The
// first byte picks the kind (bit 0: .jsonl, else .txt), the rest is the file. A bad file (not
// UTF-8, a line that is not a {"prompt", "answer"} object, too short for one window, no samples)
// must be refused with a kvmix::Error; a crash, a sanitizer report or another exception escaping
// is a bug. A file that loads must give at most `samples` samples, each with a prompt and a
// continuation of token ids the tokenizer knows. Crashes go to tests/fuzz/regressions/task_file/.
#include <cstddef>
#include <cstdint>
#include <string>

#include "base/error.h"
#include "search/task_data.h"
#include "tests/fuzz/fuzz_input_file.h"
#include "tests/fuzz/fuzz_refused.h"

namespace {

const kvmix::Tokenizer& builtin_tokenizer() {
  static const kvmix::Tokenizer tok =
      kvmix::Tokenizer::from_file(std::string(KVMIX_SOURCE_DIR) + "/models/builtin/tokenizer.json");
  return tok;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kvmix;
  if (size == 0) return 0;
  const bool jsonl = data[0] & 1;
  const std::string path =
      fuzz::write_input_file(jsonl ? "task.jsonl" : "task.txt", data + 1, size - 1);
  const Tokenizer& tok = builtin_tokenizer();
  TaskSpec spec = parse_task(path, Split::kHeldOut, /*samples=*/8);
  spec.text_window = 16;  // small windows, so short inputs reach the windowing
  spec.text_context = 8;
  TaskData d;
  try {
    d = prepare_task(spec, tok);
  } catch (const Error& e) {
    return fuzz::refused(e);
  }
  KVMIX_ASSERT(!d.prompts.empty() && static_cast<int64_t>(d.prompts.size()) <= spec.samples,
               "{} samples for at most {}", d.prompts.size(), spec.samples);
  KVMIX_ASSERT(d.continuations.size() == d.prompts.size(), "{} continuations for {} prompts",
               d.continuations.size(), d.prompts.size());
  KVMIX_ASSERT(d.generative == jsonl, "a {} file scored as {}", jsonl ? ".jsonl" : ".txt",
               d.generative ? "generation" : "perplexity");
  if (jsonl)
    KVMIX_ASSERT(d.answers.size() == d.prompts.size(), "{} answers for {} prompts",
                 d.answers.size(), d.prompts.size());
  const int64_t vocab = tok.vocab_size();
  for (size_t i = 0; i < d.prompts.size(); ++i) {
    KVMIX_ASSERT(!d.prompts[i].empty(), "sample {} has an empty prompt", i);
    if (!jsonl)
      KVMIX_ASSERT(static_cast<int64_t>(d.continuations[i].size()) ==
                       spec.text_window - spec.text_context,
                   "window {} scores {} tokens", i, d.continuations[i].size());
    for (const auto* ids : {&d.prompts[i], &d.continuations[i]})
      for (const int64_t id : *ids)
        KVMIX_ASSERT(id >= 0 && id < vocab, "sample {}: id {} outside [0, {})", i, id, vocab);
  }
  return 0;
}
