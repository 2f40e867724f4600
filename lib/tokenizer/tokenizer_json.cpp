// Loading a Tokenizer from a Hugging Face tokenizer.json (the serialization of HF tokenizers'
// Tokenizer: src/tokenizer/serialization.rs and the serde forms of each component). Every field
// that changes the ids is read and checked; a value kvmix does not implement is refused by name.
#include <filesystem>
#include <nlohmann/json.hpp>

#include "lib/io/atomic_file.h"  // read_file
#include "base/error.h"
#include "lib/tokenizer/tokenizer.h"
#include "lib/tokenizer/byte_level.h"
#include "lib/tokenizer/tokenizer_impl.h"

namespace kvmix {
namespace {

using nlohmann::json;

// Reads fields of one JSON document; every error names the document and the field's path.
class Reader {
 public:
  explicit Reader(std::string source) : source_(std::move(source)) {}
  const std::string& source() const { return source_; }

  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    throw Error(fmt::format("{}: {}: {}", source_, where, what));
  }
  [[noreturn]] void unsupported(const std::string& where, const std::string& type,
                                const char* supported) const {
    fail(where + ".type",
         fmt::format("unsupported type \"{}\" (kvmix supports {})", type, supported));
  }

  const json& at(const json& object, const std::string& where, const char* key) const {
    if (!object.is_object()) fail(where, "expected a JSON object");
    const auto it = object.find(key);
    if (it == object.end()) fail(where, fmt::format("field \"{}\" is missing", key));
    return *it;
  }
  std::string string(const json& object, const std::string& where, const char* key) const {
    const json& value = at(object, where, key);
    if (!value.is_string()) fail(where + "." + key, "expected a string");
    return value.get<std::string>();
  }
  // A token id: an integer in [0, 2^31), since the model stores ids as int32.
  static constexpr const char* kNotAnId = "expected an integer in [0, 2^31)";
  static bool is_id(const json& value) {
    return value.is_number_integer() && value.get<int64_t>() >= 0 &&
           value.get<int64_t>() <= INT32_MAX;
  }
  int64_t integer(const json& value, const std::string& where) const {
    if (!is_id(value)) fail(where, kNotAnId);
    return value.get<int64_t>();
  }
  // An id of the vocabulary or an added token: below `bound`, the number of tokens the file
  // defines. The tokenizer keeps a table indexed by id, so an id of 2^31 - 1 in a tiny file would
  // otherwise allocate gigabytes.
  [[noreturn]] void fail_id_bound(const std::string& where, int64_t id, int64_t bound) const {
    fail(where, fmt::format("id {} is out of range: the file defines {} tokens (model.vocab and "
                            "added_tokens), so ids must be below {}",
                            id, bound, bound));
  }
  // A boolean that may be absent or null (then `fallback`).
  bool flag(const json& object, const std::string& where, const char* key, bool fallback) const {
    const auto it = object.find(key);
    if (it == object.end() || it->is_null()) return fallback;
    if (!it->is_boolean()) fail(where + "." + key, "expected true or false");
    return it->get<bool>();
  }
  std::string type(const json& object, const std::string& where) const {
    return string(object, where, "type");
  }
  const json& array(const json& object, const std::string& where, const char* key) const {
    const json& value = at(object, where, key);
    if (!value.is_array()) fail(where + "." + key, "expected an array");
    return value;
  }
  // The literal of a {"String": ...} pattern (Replace); a {"Regex": ...} one is not supported.
  std::string string_pattern(const json& object, const std::string& where) const {
    const json& pattern = at(object, where, "pattern");
    if (!pattern.is_object() || !pattern.contains("String") || !pattern["String"].is_string()) {
      fail(where + ".pattern", "only {\"String\": ...} patterns are supported here");
    }
    std::string text = pattern["String"].get<std::string>();
    if (text.empty()) fail(where + ".pattern.String", "empty pattern");
    return text;
  }

 private:
  std::string source_;
};

std::string item(const std::string& where, size_t i) { return fmt::format("{}[{}]", where, i); }

// Calls read(element, its path) for each element of the array j[key]: the members of a Sequence.
template <typename Read>
void for_each_member(const Reader& r, const json& j, const std::string& where, const char* key,
                     Read read) {
  const json& list = r.array(j, where, key);
  for (size_t i = 0; i < list.size(); ++i) read(list[i], item(where + "." + key, i));
}

void read_normalizer(const Reader& r, const json& j, const std::string& where, Normalizer& out) {
  if (j.is_null()) return;
  const std::string type = r.type(j, where);
  if (type == "Sequence") {
    for_each_member(r, j, where, "normalizers",
                    [&](const json& m, const std::string& at) { read_normalizer(r, m, at, out); });
  } else if (type == "NFC") {
    out.steps.push_back({NormalizerStep::Kind::kNfc, "", ""});
  } else if (type == "Prepend") {
    out.steps.push_back({NormalizerStep::Kind::kPrepend, r.string(j, where, "prepend"), ""});
  } else if (type == "Replace") {
    out.steps.push_back({NormalizerStep::Kind::kReplace, r.string_pattern(j, where),
                         r.string(j, where, "content")});
  } else {
    r.unsupported(where, type, "NFC, Prepend, Replace and Sequence normalizers");
  }
}

void read_pre_tokenizer(const Reader& r, const json& j, const std::string& where,
                        PreTokenizer& out) {
  if (j.is_null()) return;
  const std::string type = r.type(j, where);
  if (out.byte_level) r.fail(where, "unsupported: a pre-tokenizer after ByteLevel");
  if (type == "Sequence") {
    for_each_member(r, j, where, "pretokenizers", [&](const json& m, const std::string& at) {
      read_pre_tokenizer(r, m, at, out);
    });
  } else if (type == "Split") {
    const json& pattern = r.at(j, where, "pattern");
    if (!pattern.is_object() || !pattern.contains("Regex") || !pattern["Regex"].is_string()) {
      r.fail(where + ".pattern", "only {\"Regex\": ...} patterns are supported");
    }
    const std::string behavior = r.string(j, where, "behavior");
    if (behavior != "Isolated") {
      r.fail(where + ".behavior",
             fmt::format("unsupported \"{}\" (kvmix supports Isolated)", behavior));
    }
    if (r.flag(j, where, "invert", false)) r.fail(where + ".invert", "unsupported true");
    out.splits.emplace_back(pattern["Regex"].get<std::string>(), r.source() + ": " + where);
  } else if (type == "ByteLevel") {
    out.byte_level = true;
    // As HF tokenizers reads it: add_prefix_space is required, use_regex defaults to true
    // (src/pre_tokenizers/byte_level.rs); trim_offsets only moves offsets, not ids.
    if (!r.at(j, where, "add_prefix_space").is_boolean()) {
      r.fail(where + ".add_prefix_space", "expected true or false");
    }
    out.add_prefix_space = j["add_prefix_space"].get<bool>();
    if (r.flag(j, where, "use_regex", true)) {
      out.byte_level_regex.emplace_back(kGpt2SplitPattern, "GPT-2 regex");
    }
  } else {
    r.unsupported(where, type, "Split, ByteLevel and Sequence pre-tokenizers");
  }
}

std::unique_ptr<const BpeModel> read_model(const Reader& r, const json& j, int64_t id_bound) {
  const std::string where = "model";
  if (const std::string type = r.type(j, where); type != "BPE") {
    r.unsupported(where, type, "BPE models");
  }
  if (j.contains("dropout") && !j["dropout"].is_null()) r.fail("model.dropout", "must be null");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (j.contains(key) && !j[key].is_null() && j[key] != "") {
      r.fail(fmt::format("model.{}", key), "unsupported: must be null or \"\"");
    }
  }
  const json& vocab_json = r.at(j, where, "vocab");
  if (!vocab_json.is_object()) r.fail("model.vocab", "expected an object of token: id");
  std::unordered_map<std::string, int32_t> vocab;
  vocab.reserve(vocab_json.size());
  for (const auto& [token, id] : vocab_json.items()) {
    // Checked inline: building the field's name for all 128k entries would cost more than the rest.
    if (!Reader::is_id(id)) r.fail("model.vocab[\"" + token + "\"]", Reader::kNotAnId);
    if (id.get<int64_t>() >= id_bound)
      r.fail_id_bound("model.vocab[\"" + token + "\"]", id.get<int64_t>(), id_bound);
    vocab.emplace(token, id.get<int32_t>());
  }
  // Merges are "left right" strings (one space: tokens never contain one) or, since tokenizers
  // 0.20, [left, right] pairs.
  const json& merges_json = r.array(j, where, "merges");
  std::vector<std::pair<std::string, std::string>> merges;
  merges.reserve(merges_json.size());
  for (size_t i = 0; i < merges_json.size(); ++i) {
    const json& m = merges_json[i];
    if (m.is_string()) {
      const std::string& text = m.get_ref<const std::string&>();
      const size_t space = text.find(' ');
      if (space == std::string::npos || text.find(' ', space + 1) != std::string::npos) {
        r.fail(item("model.merges", i),
               fmt::format("\"{}\" is not two tokens split by one space", text));
      }
      merges.emplace_back(text.substr(0, space), text.substr(space + 1));
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else {
      r.fail(item("model.merges", i), "expected \"left right\" or [\"left\", \"right\"]");
    }
  }
  BpeOptions options;
  if (j.contains("unk_token") && !j["unk_token"].is_null()) {
    const std::string unk = r.string(j, where, "unk_token");
    if (const auto it = vocab.find(unk); it != vocab.end()) options.unk_id = it->second;
  }
  options.fuse_unk = r.flag(j, where, "fuse_unk", false);
  options.byte_fallback = r.flag(j, where, "byte_fallback", false);
  options.ignore_merges = r.flag(j, where, "ignore_merges", false);
  return std::make_unique<const BpeModel>(std::move(vocab), merges, options, r.source());
}

std::vector<AddedToken> read_added_tokens(const Reader& r, const json& root, bool has_normalizer,
                                          int64_t id_bound) {
  std::vector<AddedToken> tokens;
  const json& list = r.array(root, "tokenizer.json", "added_tokens");
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string where = item("added_tokens", i);
    const json& t = list[i];
    for (const char* key : {"single_word", "lstrip", "rstrip"}) {
      if (r.flag(t, where, key, false)) r.fail(where + "." + key, "unsupported true");
    }
    // A normalized added token is matched in normalized text; with no normalizer that is the same.
    if (has_normalizer && r.flag(t, where, "normalized", false)) {
      r.fail(where + ".normalized", "unsupported true (with a normalizer)");
    }
    const int64_t id = r.integer(r.at(t, where, "id"), where + ".id");
    if (id >= id_bound) r.fail_id_bound(where + ".id", id, id_bound);
    tokens.push_back({r.string(t, where, "content"), id, r.flag(t, where, "special", false)});
  }
  return tokens;
}

// TemplateProcessing's template for one sequence: special tokens, "A", special tokens
// (src/processors/template.rs). The pair template is not used: kvmix encodes single sequences.
void read_template(const Reader& r, const json& j, const std::string& where, Tokenizer::Impl& t) {
  const json& single = r.array(j, where, "single");
  const json& specials = r.at(j, where, "special_tokens");
  bool seen_sequence = false;
  for (size_t i = 0; i < single.size(); ++i) {
    const std::string at = item(where + ".single", i);
    const json& piece = single[i];
    if (piece.contains("Sequence")) {
      if (r.string(piece["Sequence"], at + ".Sequence", "id") != "A" || seen_sequence) {
        r.fail(at, "the single template must hold sequence \"A\" once");
      }
      seen_sequence = true;
    } else if (piece.contains("SpecialToken")) {
      const std::string name = r.string(piece["SpecialToken"], at + ".SpecialToken", "id");
      const std::string sw = where + ".special_tokens[\"" + name + "\"]";
      const json& ids = r.array(r.at(specials, where + ".special_tokens", name.c_str()), sw, "ids");
      for (size_t k = 0; k < ids.size(); ++k) {
        (seen_sequence ? t.template_suffix : t.template_prefix)
            .push_back(r.integer(ids[k], item(sw + ".ids", k)));
      }
    } else {
      r.fail(at, "expected {\"SpecialToken\": ...} or {\"Sequence\": ...}");
    }
  }
  if (!seen_sequence) r.fail(where + ".single", "no sequence \"A\"");
}

void read_post_processor(const Reader& r, const json& j, const std::string& where,
                         Tokenizer::Impl& t) {
  if (j.is_null()) return;
  const std::string type = r.type(j, where);
  if (type == "Sequence") {
    for_each_member(r, j, where, "processors", [&](const json& m, const std::string& at) {
      read_post_processor(r, m, at, t);
    });
  } else if (type == "TemplateProcessing") {
    if (!t.template_prefix.empty() || !t.template_suffix.empty())
      r.fail(where, "a second template");
    read_template(r, j, where, t);
  } else if (type != "ByteLevel") {  // ByteLevel post-processing only trims offsets
    r.unsupported(where, type, "TemplateProcessing, ByteLevel and Sequence post-processors");
  }
}

void read_decoder(const Reader& r, const json& j, const std::string& where, Decoder& out) {
  if (j.is_null()) return;
  out.present = true;
  const std::string type = r.type(j, where);
  using Kind = DecoderStep::Kind;
  if (type == "Sequence") {
    for_each_member(r, j, where, "decoders",
                    [&](const json& m, const std::string& at) { read_decoder(r, m, at, out); });
  } else if (type == "ByteLevel") {
    out.steps.push_back({Kind::kByteLevel, "", "", 0, 0});
  } else if (type == "Replace") {
    out.steps.push_back(
        {Kind::kReplace, r.string_pattern(j, where), r.string(j, where, "content"), 0, 0});
  } else if (type == "ByteFallback") {
    out.steps.push_back({Kind::kByteFallback, "", "", 0, 0});
  } else if (type == "Fuse") {
    out.steps.push_back({Kind::kFuse, "", "", 0, 0});
  } else if (type == "Strip") {
    DecoderStep step{Kind::kStrip, "", r.string(j, where, "content"), 0, 0};
    if (step.content.empty()) r.fail(where + ".content", "empty");
    step.start = static_cast<size_t>(r.integer(r.at(j, where, "start"), where + ".start"));
    step.stop = static_cast<size_t>(r.integer(r.at(j, where, "stop"), where + ".stop"));
    out.steps.push_back(step);
  } else {
    r.unsupported(where, type,
                  "ByteLevel, Replace, ByteFallback, Fuse, Strip and Sequence decoders");
  }
}

// Every text must have some spelling: an unknown token, byte fallback, or the complete byte-level
// alphabet (HF tokenizers would otherwise drop the characters silently).
void check_every_text_encodes(const Reader& r, const Tokenizer::Impl& t) {
  const BpeModel& model = *t.model;
  if (model.options().unk_id || (model.options().byte_fallback && model.has_all_byte_tokens()))
    return;
  if (t.pre_tokenizer.byte_level) {
    bool complete = true;
    for (int b = 0; b < 256; ++b)
      complete = complete && model.token_id(byte_level_char(b)).has_value();
    if (complete) return;
  }
  r.fail("model",
         "some text could not be encoded: no unk_token in the vocabulary, no complete "
         "byte_fallback set <0x00>..<0xFF>, and no complete ByteLevel alphabet");
}

// How many tokens the file defines: vocabulary entries plus added tokens (which may sit past the
// vocabulary, as Llama 3's 256 specials do). Every id must be below it; the shapes are checked
// by the readers, so here a malformed part just counts 0.
int64_t token_count(const json& model, const json& root) {
  size_t n = 0;
  if (model.is_object() && model.contains("vocab") && model["vocab"].is_object())
    n += model["vocab"].size();
  if (root.contains("added_tokens") && root["added_tokens"].is_array())
    n += root["added_tokens"].size();
  return static_cast<int64_t>(n);
}

std::shared_ptr<Tokenizer::Impl> read_tokenizer(const std::string& text, const Reader& r) {
  json root;
  try {
    root = json::parse(text);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers like 1e400
    throw Error(fmt::format("{}: not valid JSON: {}", r.source(), e.what()));
  }
  if (!root.is_object()) r.fail("tokenizer.json", "expected a JSON object");
  for (const char* key : {"truncation", "padding"}) {
    if (root.contains(key) && !root[key].is_null()) r.fail(key, "unsupported: must be null");
  }
  auto t = std::make_shared<Tokenizer::Impl>();
  read_normalizer(r, root.value("normalizer", json()), "normalizer", t->normalizer);
  read_pre_tokenizer(r, root.value("pre_tokenizer", json()), "pre_tokenizer", t->pre_tokenizer);
  const json& model = r.at(root, "tokenizer.json", "model");
  const int64_t id_bound = token_count(model, root);
  t->model = read_model(r, model, id_bound);
  t->added =
      AddedTokens(read_added_tokens(r, root, !t->normalizer.steps.empty(), id_bound), r.source());
  read_post_processor(r, root.value("post_processor", json()), "post_processor", *t);
  read_decoder(r, root.value("decoder", json()), "decoder", t->decoder);
  check_every_text_encodes(r, *t);
  for (const auto* ids : {&t->template_prefix, &t->template_suffix}) {
    for (const int64_t id : *ids) {
      if (!t->added.by_id(id) && !t->model->token(id)) {
        r.fail("post_processor", fmt::format("the template's id {} is no token", id));
      }
    }
  }
  if (!t->template_prefix.empty()) t->bos_id = t->template_prefix.front();
  t->eos_ids = t->template_suffix;
  return t;
}

// bos_token / eos_token of tokenizer_config.json (transformers' PreTrainedTokenizerBase): a string,
// an AddedToken object with "content", or null. Returns false when the key is absent.
bool read_config_token(const Reader& r, const json& config, const char* key, const Tokenizer& tok,
                       std::optional<int64_t>& id) {
  const auto it = config.find(key);
  if (it == config.end()) return false;
  id.reset();
  if (it->is_null()) return true;
  if (!it->is_object() && !it->is_string()) r.fail(key, "expected a string, an object or null");
  const std::string content =
      it->is_object() ? r.string(*it, key, "content") : it->get<std::string>();
  id = tok.token_id(content);
  if (!id) r.fail(key, fmt::format("\"{}\" is not a token of the tokenizer", content));
  return true;
}

}  // namespace

Tokenizer Tokenizer::from_json(const std::string& json_text, const std::string& source) {
  return Tokenizer(read_tokenizer(json_text, Reader(source)));
}

Tokenizer Tokenizer::from_file(const std::string& path) {
  std::shared_ptr<Impl> impl = read_tokenizer(read_file(path), Reader(path));
  const auto config_path = std::filesystem::path(path).parent_path() / "tokenizer_config.json";
  if (std::filesystem::exists(config_path)) {
    const Reader r(config_path.string());
    json config;
    try {
      config = json::parse(read_file(config_path.string()));
    } catch (const json::exception& e) {
      throw Error(fmt::format("{}: not valid JSON: {}", r.source(), e.what()));
    }
    if (!config.is_object()) r.fail("tokenizer_config.json", "expected a JSON object");
    const Tokenizer partial(impl);
    std::optional<int64_t> id;
    if (read_config_token(r, config, "bos_token", partial, id)) impl->bos_id = id.value_or(-1);
    if (read_config_token(r, config, "eos_token", partial, id)) {
      impl->eos_ids = id ? std::vector<int64_t>{*id} : std::vector<int64_t>{};
    }
  }
  return Tokenizer(std::move(impl));
}

}  // namespace kvmix
