// kvmix's logits against llama.cpp's, an independent implementation of the same architectures,
// on random tiny checkpoints in the Hugging Face layout. Run through scripts/compare_llamacpp.sh,
// which installs node-llama-cpp (llama.cpp's prebuilt CPU library, from the npm registry) and
// builds kvmix first.
//
// For each case this script
//   1. writes a random checkpoint: config.json and model.safetensors (fp32), as save_pretrained
//      lays them out;
//   2. converts it to GGUF the way llama.cpp's convert_hf_to_gguf.py does for that architecture
//      (Llama: q_proj and k_proj rows permuted from Hugging Face's rotate-half RoPE layout to
//      llama.cpp's interleaved pairs; Qwen2: no permutation, NEOX RoPE, q/k/v biases), with a
//      byte-level vocabulary of placeholder tokens (ids are fed directly, never tokenized);
//   3. runs `kvmix logits --tokens ...` on the checkpoint and llama.cpp on the GGUF over the same
//      ids, and compares the next-token logits at every position.
// The largest absolute difference, the largest difference relative to the logits' spread and
// the argmax agreement are written to <results prefix>.json; with a tolerance, the script exits 1
// when a case's largest absolute difference exceeds it (the ctest of CMakeLists.txt).
//
// Usage: node scripts/compare_llamacpp.mjs <kvmix binary> <node_modules folder> <work folder>
//                                          <results prefix> [max abs diff]
import fs from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { pathToFileURL } from "node:url";

import { writeGguf, writeSafetensors } from "./gguf.mjs";

const [kvmixBin, nodeModules, workDir, resultsPrefix, tolArg] = process.argv.slice(2);
if (!resultsPrefix) {
  console.error("usage: node compare_llamacpp.mjs <kvmix> <node_modules> <work dir> <results prefix> [max abs diff]");
  process.exit(2);
}
const tolerance = tolArg === undefined ? Infinity : Number(tolArg);
const entry = path.resolve(nodeModules, "node-llama-cpp/dist/index.js");
if (!fs.existsSync(entry)) {
  console.error(`compare_llamacpp: ${entry} is missing: run scripts/setup.sh (it installs node-llama-cpp from npm)`);
  process.exit(1);
}
const { getLlama, LlamaLogLevel } = await import(pathToFileURL(entry).href);

// ---- random weights -------------------------------------------------------------------------------

// mulberry32: a small seeded generator, so every run writes the same checkpoints.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normal(rand, n, std, mean = 0) {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(rand(), 1e-12), v = rand();
    const r = Math.sqrt(-2 * Math.log(u));
    out[i] = mean + std * r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = mean + std * r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

// Hugging Face tensor names and shapes of a Llama-family checkpoint, with random values.
function randomWeights(c, seed) {
  const rand = rng(seed);
  const H = c.hidden_size, I = c.intermediate_size, V = c.vocab_size;
  const hd = c.head_dim, nq = c.num_attention_heads * hd, nkv = c.num_key_value_heads * hd;
  const w = new Map();
  const mat = (name, rows, cols, std) => w.set(name, { shape: [rows, cols], data: normal(rand, rows * cols, std) });
  const vec = (name, n, std, mean) => w.set(name, { shape: [n], data: normal(rand, n, std, mean) });
  mat("model.embed_tokens.weight", V, H, 1.0);
  for (let l = 0; l < c.num_hidden_layers; ++l) {
    const p = `model.layers.${l}.`;
    vec(p + "input_layernorm.weight", H, 0.1, 1.0);
    mat(p + "self_attn.q_proj.weight", nq, H, 0.25);
    mat(p + "self_attn.k_proj.weight", nkv, H, 0.25);
    mat(p + "self_attn.v_proj.weight", nkv, H, 0.25);
    if (c.attention_bias) {
      vec(p + "self_attn.q_proj.bias", nq, 0.5, 0);
      vec(p + "self_attn.k_proj.bias", nkv, 0.5, 0);
      vec(p + "self_attn.v_proj.bias", nkv, 0.5, 0);
    }
    mat(p + "self_attn.o_proj.weight", H, nq, 0.25 / Math.sqrt(nq / H));
    vec(p + "post_attention_layernorm.weight", H, 0.1, 1.0);
    mat(p + "mlp.gate_proj.weight", I, H, 0.25);
    mat(p + "mlp.up_proj.weight", I, H, 0.25);
    mat(p + "mlp.down_proj.weight", H, I, 0.25 / Math.sqrt(I / H));
  }
  vec("model.norm.weight", H, 0.1, 1.0);
  if (!c.tie_word_embeddings) mat("lm_head.weight", V, H, 0.5);
  return w;
}

// ---- the cases ----------------------------------------------------------------------------------------

function config(overrides) {
  return {
    architectures: ["LlamaForCausalLM"], model_type: "llama", hidden_size: 64, intermediate_size: 160,
    num_hidden_layers: 3, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16,
    vocab_size: 300, rms_norm_eps: 1e-5, rope_theta: 10000.0, max_position_embeddings: 512,
    tie_word_embeddings: false, attention_bias: false, hidden_act: "silu", torch_dtype: "float32",
    bos_token_id: 256, eos_token_id: 257, ...overrides,
  };
}

const CASES = [
  { name: "llama-gqa", what: "LlamaForCausalLM, 4 query heads sharing 2 KV heads, untied LM head",
    config: config({}), seed: 11 },
  { name: "llama3-rope-scaling", what: "LlamaForCausalLM with Llama 3.1 RoPE scaling (factor 8, original context 64: " +
          "all three frequency regimes at head_dim 16)",
    config: config({ rope_scaling: { rope_type: "llama3", factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0,
                                     original_max_position_embeddings: 64 },
                     rope_theta: 10000.0 }),
    seed: 13 },
  { name: "qwen2-bias-tied", what: "Qwen2ForCausalLM, q/k/v biases, tied embeddings, rope_theta 1e6",
    config: config({ architectures: ["Qwen2ForCausalLM"], model_type: "qwen2", attention_bias: true,
                     tie_word_embeddings: true, rope_theta: 1000000.0, num_key_value_heads: 1,
                     rms_norm_eps: 1e-6, use_sliding_window: false }),
    seed: 12 },
];

const TOKENS = 48;  // positions compared per case

function tokenIds(seed, vocab) {
  const rand = rng(seed);
  return Array.from({ length: TOKENS }, () => Math.floor(rand() * vocab));
}

const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
const results = [];
for (const cs of CASES) {
  const dir = path.join(workDir, cs.name);
  fs.mkdirSync(dir, { recursive: true });
  const c = cs.config;
  const weights = randomWeights(c, cs.seed);
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(c, null, 2) + "\n");
  writeSafetensors(path.join(dir, "model.safetensors"), weights);
  const gguf = path.join(workDir, cs.name + ".gguf");
  writeGguf(gguf, c, weights);
  const ids = tokenIds(cs.seed + 100, c.vocab_size);

  const out = path.join(workDir, cs.name + ".logits.json");
  execFileSync(kvmixBin, ["logits", "-m", dir, "--threads", "2", "--tokens", ids.join(","), "-o", out, "-q"],
               { stdio: "inherit" });
  const ours = JSON.parse(fs.readFileSync(out, "utf8")).logits;

  const model = await llama.loadModel({ modelPath: gguf, gpuLayers: 0 });
  // llama.cpp keeps its KV cache in fp16 unless told otherwise, and its CPU flash attention works
  // in fp16 even over an fp32 cache (both measured: about 5e-3 of logit error from the first
  // position on); kvmix computes in fp32 here, so both are turned off.
  const context = await model.createContext({ contextSize: 256, batchSize: TOKENS, threads: 2, flashAttention: false,
                                              experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32" });
  const seq = context.getSequence();
  const evals = await seq.controlledEvaluate(ids.map((t) => [t, { generateNext: { logits: true } }]));
  let maxAbs = 0, maxRel = 0, argmaxAgree = 0, worst = null;
  for (let t = 0; t < TOKENS; ++t) {
    const theirs = evals[t].next.logits;  // Map token -> logit
    const row = ours[t];
    let lo = Infinity, hi = -Infinity, bestOurs = 0, bestTheirs = 0, bestTheirsV = -Infinity;
    for (let v = 0; v < c.vocab_size; ++v) {
      lo = Math.min(lo, row[v]);
      hi = Math.max(hi, row[v]);
      if (row[v] > row[bestOurs]) bestOurs = v;
      const x = theirs.get(v);
      if (x === undefined) throw new Error(`${cs.name}: llama.cpp returned no logit for token ${v}`);
      if (x > bestTheirsV) { bestTheirsV = x; bestTheirs = v; }
      const d = Math.abs(x - row[v]);
      if (d > maxAbs) { maxAbs = d; worst = { position: t, token: v, kvmix: row[v], llamacpp: x }; }
    }
    maxRel = Math.max(maxRel, ...row.map((r, v) => Math.abs(theirs.get(v) - r) / (hi - lo)));
    if (bestOurs === bestTheirs) ++argmaxAgree;
  }
  const spread = ours.map((r) => Math.max(...r) - Math.min(...r));
  results.push({ case: cs.name, what: cs.what, config: c, positions: TOKENS, vocab: c.vocab_size,
                 max_abs_diff: maxAbs, max_diff_over_spread: maxRel,
                 mean_logit_spread: spread.reduce((a, b) => a + b, 0) / spread.length,
                 argmax_agree: argmaxAgree, worst });
  await context.dispose();
  await model.dispose();
  console.log(`${cs.name}: max |kvmix - llama.cpp| ${maxAbs.toExponential(3)} ` +
              `(${(maxRel * 100).toExponential(2)}% of the logit spread), argmax agrees at ${argmaxAgree}/${TOKENS}`);
}

const pkg = JSON.parse(fs.readFileSync(path.join(nodeModules, "node-llama-cpp/package.json"), "utf8"));
const report = { schema: "kvmix.compare.llamacpp", version: 1, node_llama_cpp: pkg.version,
                 command: "scripts/compare_llamacpp.sh", cases: results };
fs.mkdirSync(path.dirname(resultsPrefix), { recursive: true });
const tmp = resultsPrefix + ".json.tmp";
fs.writeFileSync(tmp, JSON.stringify(report, null, 1) + "\n");
fs.renameSync(tmp, resultsPrefix + ".json");
console.log("wrote " + resultsPrefix + ".json");
const over = results.filter((r) => !(r.max_abs_diff <= tolerance));
if (over.length) {
  console.error(`compare_llamacpp: ${over.map((r) => r.case).join(", ")} differ from llama.cpp by more than ${tolerance}`);
  process.exit(1);
}
