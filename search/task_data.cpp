#include "search/task_data.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <sstream>

#include "lib/io/atomic_file.h"
#include "base/error.h"
#include "lib/io/paths.h"
#include "lib/tasks/corpus.h"
#include "lib/tokenizer/utf8.h"  // check_utf8_file

namespace kvmix {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string trim(std::string s) {
  const char* ws = " \t\r\n";
  s.erase(0, s.find_first_not_of(ws));
  const size_t e = s.find_last_not_of(ws);
  s.erase(e == std::string::npos ? 0 : e + 1);
  return s;
}

bool is_number(const std::string& s) {
  if (s.empty()) return false;
  size_t i = (s[0] == '-') ? 1 : 0;
  if (i == s.size()) return false;
  for (; i < s.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(s[i])) && s[i] != '.' && s[i] != ',') return false;
  return true;
}

// Perplexity windows over documents: consecutive, non-overlapping, `window` tokens each.
void add_text_windows(TaskData& d, const std::vector<std::string>& docs, const Tokenizer& tok,
                      const TaskSpec& spec) {
  for (const auto& text : docs) {
    auto ids = tok.encode(text, /*add_special_tokens=*/false);
    for (size_t s = 0; s + static_cast<size_t>(spec.text_window) <= ids.size();
         s += static_cast<size_t>(spec.text_window)) {
      if (static_cast<int64_t>(d.prompts.size()) >= spec.samples) return;
      std::vector<int64_t> prompt;
      if (tok.bos_id() >= 0) prompt.push_back(tok.bos_id());
      prompt.insert(prompt.end(), ids.begin() + static_cast<long>(s),
                    ids.begin() + static_cast<long>(s) + spec.text_context);
      d.prompts.push_back(prompt);
      d.continuations.emplace_back(ids.begin() + static_cast<long>(s) + spec.text_context,
                                   ids.begin() + static_cast<long>(s) + spec.text_window);
    }
  }
}

}  // namespace

TaskSpec parse_task(const std::string& name, Split split, int64_t samples) {
  TaskSpec t;
  t.split = split;
  t.samples = samples;
  t.name = name;
  if (name == "text") {
    t.kind = TaskKind::kText;
  } else if (name == "arith") {
    t.kind = TaskKind::kArith;
    t.scoring = AnswerScoring::kLastNumber;
    t.max_new_tokens = 256;
  } else if (name == "recall") {
    t.kind = TaskKind::kRecall;
    t.scoring = AnswerScoring::kExact;
    t.max_new_tokens = 8;
  } else if (ends_with(name, ".txt")) {
    t.kind = TaskKind::kUserText;
    t.data_path = name;
  } else if (ends_with(name, ".jsonl")) {
    t.kind = TaskKind::kUserPrompts;
    t.data_path = name;
    t.max_new_tokens = 256;
  } else {
    throw UsageError("unknown task '" + name +
                     "' (expected text, arith, recall, or a data file ending in .txt or .jsonl)");
  }
  return t;
}

const char* scoring_name(AnswerScoring s) {
  return s == AnswerScoring::kExact ? "exact" : "last_number";
}

nlohmann::json task_data_to_json(const TaskData& d) {
  return {{"name", d.name},
          {"generative", d.generative},
          {"scoring", scoring_name(d.scoring)},
          {"max_new_tokens", d.max_new_tokens},
          {"prompts", d.prompts},
          {"continuations", d.continuations},
          {"answers", d.answers}};
}

TaskData task_data_from_json(const nlohmann::json& j, const std::string& where) {
  try {
    TaskData d;
    d.name = j.at("name").get<std::string>();
    d.generative = j.at("generative").get<bool>();
    const std::string scoring = j.at("scoring").get<std::string>();
    KVMIX_CHECK(scoring == "exact" || scoring == "last_number", "{}: unknown answer scoring '{}'", where, scoring);
    d.scoring = scoring == "exact" ? AnswerScoring::kExact : AnswerScoring::kLastNumber;
    d.max_new_tokens = j.at("max_new_tokens").get<int64_t>();
    KVMIX_CHECK(d.max_new_tokens >= 0, "{}: max_new_tokens {} < 0", where, d.max_new_tokens);
    d.prompts = j.at("prompts").get<std::vector<std::vector<int64_t>>>();
    d.continuations = j.at("continuations").get<std::vector<std::vector<int64_t>>>();
    d.answers = j.at("answers").get<std::vector<std::string>>();
    KVMIX_CHECK(d.continuations.size() == d.prompts.size(), "{}: {} prompts, {} continuations", where,
                d.prompts.size(), d.continuations.size());
    KVMIX_CHECK(!d.generative || d.answers.size() == d.prompts.size(), "{}: {} prompts, {} answers", where,
                d.prompts.size(), d.answers.size());
    return d;
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: malformed task data: {}", where, e.what()));
  }
}

bool answer_correct(const std::string& generated, const std::string& answer, AnswerScoring s) {
  if (s == AnswerScoring::kLastNumber) {
    auto strip = [](std::string x) {
      x.erase(std::remove(x.begin(), x.end(), ','), x.end());
      return x;
    };
    return strip(extract_final_number(generated)) == strip(trim(answer));
  }
  const std::string first_line = generated.substr(0, generated.find('\n'));
  return trim(first_line) == trim(answer);
}

TaskData prepare_task(const TaskSpec& spec, const Tokenizer& tok) {
  TaskData d;
  d.name = spec.name;
  d.max_new_tokens = spec.max_new_tokens;
  d.scoring = spec.scoring;
  auto with_bos = [&](const std::string& text) { return tok.encode(text, /*add_special_tokens=*/true); };
  switch (spec.kind) {
    case TaskKind::kArith:
    case TaskKind::kRecall: {
      d.generative = true;
      for (int64_t i = 0; i < spec.samples; ++i) {
        const PromptAnswer pa =
            spec.kind == TaskKind::kArith
                ? make_arith_problem(spec.split, static_cast<uint64_t>(i), spec.arith).text
                : make_recall_problem(spec.split, static_cast<uint64_t>(i), spec.recall).text;
        d.prompts.push_back(with_bos(pa.prompt));
        d.continuations.push_back(tok.encode(pa.target, false));
        d.answers.push_back(pa.answer);
      }
      break;
    }
    case TaskKind::kText: {
      const auto docs = brown_documents(load_brown_corpus(brown_corpus_dir()), spec.split);
      std::vector<std::string> texts;
      for (const auto& doc : docs) texts.push_back(doc.text);
      add_text_windows(d, texts, tok, spec);
      break;
    }
    case TaskKind::kUserText: {
      const std::string text = read_file(spec.data_path);
      check_utf8_file(text, spec.data_path);
      add_text_windows(d, {text}, tok, spec);
      KVMIX_CHECK(!d.prompts.empty(), "{}: shorter than one window of {} tokens", spec.data_path,
                  spec.text_window);
      break;
    }
    case TaskKind::kUserPrompts: {
      d.generative = true;
      const std::string text = read_file(spec.data_path);
      check_utf8_file(text, spec.data_path);  // JSON strings must be UTF-8; this names the line
      std::istringstream in(text);
      std::string line;
      int64_t lineno = 0;
      bool all_numeric = true;
      while (std::getline(in, line) && static_cast<int64_t>(d.prompts.size()) < spec.samples) {
        ++lineno;
        if (trim(line).empty()) continue;
        nlohmann::json j;
        try {
          j = nlohmann::json::parse(line);
        } catch (const nlohmann::json::exception& e) {
          throw Error(fmt::format("{}:{}: not valid JSON: {}", spec.data_path, lineno, e.what()));
        }
        KVMIX_CHECK(j.is_object() && j.contains("prompt") && j["prompt"].is_string() &&
                        j.contains("answer") && (j["answer"].is_string() || j["answer"].is_number()),
                    "{}:{}: each line needs a string \"prompt\" and a string or number \"answer\"",
                    spec.data_path, lineno);
        const std::string answer =
            j["answer"].is_string() ? j["answer"].get<std::string>() : j["answer"].dump();
        all_numeric = all_numeric && is_number(trim(answer));
        d.prompts.push_back(with_bos(j["prompt"].get<std::string>()));
        d.continuations.push_back(tok.encode(" " + answer, false));
        d.answers.push_back(answer);
      }
      KVMIX_CHECK(!d.prompts.empty(), "{}: no samples", spec.data_path);
      // GSM8K-style data (numeric answers) is scored by the last number, anything else exactly.
      d.scoring = all_numeric ? AnswerScoring::kLastNumber : AnswerScoring::kExact;
      break;
    }
  }
  KVMIX_CHECK(!d.prompts.empty(), "task {}: no samples", spec.name);
  return d;
}

}  // namespace kvmix
