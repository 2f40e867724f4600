// llama.cpp (node-llama-cpp's prebuilt CPU library) running kvmix's built-in model under the KV
// cache types kvmix's llama.cpp export chooses.
//
//   node scripts/llamacpp_engine.mjs accept <kvmix> <node_modules> <work folder>
//     Exports kvmix configs covering every branch of the llama.cpp lowering (fp16, fp8, 8-bit,
//     4-bit symmetric and asymmetric, 2-bit, ternary keys and values), collects the -ctk/-ctv pairs
//     the exporter writes, and runs the built-in model in llama.cpp under each pair: the context
//     must be created, every logit of a 96-token sequence finite, and a quantized pair must change
//     the logits (the type was applied) while keeping them near f16's. Exit 1 otherwise. A ctest.
//
//   node scripts/llamacpp_engine.mjs score <node_modules> <work folder> <tasks.json> <out.json> CTK/CTV...
//     Scores the samples `kvmix tasks` wrote (recall: exact match of greedy answers; text:
//     perplexity over the continuations) under each cache-type pair, e.g. f16/f16 q4_1/q4_1.
//
// The model file is the built-in checkpoint converted to GGUF (fp32 weights) by scripts/gguf.mjs;
// ids are fed directly (its tokenizer maps id b < 256 to byte b, so answers decode as bytes).
import fs from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { pathToFileURL } from "node:url";

import { readSafetensors, writeGguf } from "./gguf.mjs";

const SOURCE = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const BUILTIN = path.join(SOURCE, "models", "builtin");
const TYPES = { f16: "F16", q8_0: "Q8_0", q5_1: "Q5_1", q5_0: "Q5_0", q4_1: "Q4_1", q4_0: "Q4_0" };
const NEWLINE = 10;

function usage() {
  console.error("usage: llamacpp_engine.mjs accept <kvmix> <node_modules> <work>\n" +
                "       llamacpp_engine.mjs score <node_modules> <work> <tasks.json> <out.json> CTK/CTV...");
  process.exit(2);
}

async function loadLlama(nodeModules) {
  const entry = path.resolve(nodeModules, "node-llama-cpp/dist/index.js");
  if (!fs.existsSync(entry)) {
    console.error(`llamacpp_engine: ${entry} is missing: run scripts/setup.sh (it installs node-llama-cpp)`);
    process.exit(1);
  }
  const lib = await import(pathToFileURL(entry).href);
  const llama = await lib.getLlama({ gpu: false, build: "never", logLevel: lib.LlamaLogLevel.error });
  const version = JSON.parse(fs.readFileSync(path.resolve(nodeModules, "node-llama-cpp/package.json"), "utf8")).version;
  return { llama, version };
}

function builtinGguf(work) {
  const config = JSON.parse(fs.readFileSync(path.join(BUILTIN, "config.json"), "utf8"));
  const file = path.join(work, "builtin.gguf");
  writeGguf(file, config, readSafetensors(path.join(BUILTIN, "model.safetensors")));
  return { file, config };
}

// A cache-type pair "ctk/ctv" checked against the names llama.cpp knows.
function parsePair(s) {
  const [k, v, extra] = s.split("/");
  if (extra !== undefined || !(k in TYPES) || !(v in TYPES))
    throw new Error(`cache-type pair '${s}': expected CTK/CTV with each of ${Object.keys(TYPES).join(", ")}`);
  return { k, v };
}

async function makeContext(model, pair, contextSize) {
  // A quantized V cache needs flash attention in llama.cpp; f16 runs without, as the export says.
  return model.createContext({ contextSize, batchSize: 512, threads: 2, flashAttention: pair.v !== "f16",
                               experimentalKvCacheKeyType: TYPES[pair.k],
                               experimentalKvCacheValueType: TYPES[pair.v] });
}

// Next-token logits at the positions of ids from `from` on (all by default), as arrays over the
// vocabulary; earlier positions are evaluated without returning logits (much faster).
async function logitsAt(seq, ids, vocab, from = 0) {
  const evals = await seq.controlledEvaluate(ids.map((t, i) => (i < from ? t : [t, { generateNext: { logits: true } }])));
  return evals.slice(from).map((e) => {
    const row = new Float64Array(vocab);
    for (let v = 0; v < vocab; ++v) {
      const x = e.next.logits.get(v);
      row[v] = x === undefined ? NaN : x;
    }
    return row;
  });
}

// ---- accept -----------------------------------------------------------------------------------

// One format per branch of the lowering rule in lib/export/llamacpp_flags.cpp.
const FORMATS = {
  fp16: { family: "fp16", bits: 16 },
  fp8: { family: "fp8_e4m3", bits: 8, axis: "per-token", group: 0, residual: 0, scale_dtype: "fp16" },
  u8asym: { family: "uniform", bits: 8, axis: "per-token", group: 32, symmetric: false, residual: 0, scale_dtype: "fp16" },
  u4asym: { family: "uniform", bits: 4, axis: "per-token", group: 32, symmetric: false, residual: 0, scale_dtype: "fp16" },
  u4sym: { family: "uniform", bits: 4, axis: "per-token", group: 32, symmetric: true, residual: 0, scale_dtype: "fp16" },
  u2ch: { family: "uniform", bits: 2, axis: "per-channel", group: 32, symmetric: false, residual: 32, scale_dtype: "fp16" },
  ternary: { family: "ternary", bits: 1.58, axis: "per-token", group: 32, residual: 0, scale_dtype: "fp16" },
};

function configFor(template, kName, vName) {
  const c = JSON.parse(JSON.stringify(template));
  c.formats = { [kName]: FORMATS[kName], [vName]: FORMATS[vName] };
  c.layers = c.layers.map((l) => ({ layer: l.layer, k: kName, v: vName }));
  return c;
}

async function accept(kvmix, nodeModules, work) {
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  const template = JSON.parse(fs.readFileSync(path.join(SOURCE, "results", "tune-builtin", "config.json"), "utf8"));
  const emitted = new Map();  // "ctk/ctv" -> the kvmix formats that export to it
  for (const k of Object.keys(FORMATS))
    for (const v of Object.keys(FORMATS)) {
      const dir = path.join(work, `export-${k}-${v}`);
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(configFor(template, k, v)));
      execFileSync(kvmix, ["export", path.join(dir, "config.json"), "--to", "llamacpp", "-o", dir, "-q"],
                   { stdio: ["ignore", "ignore", "inherit"] });
      const first = fs.readFileSync(path.join(dir, "llamacpp_flags.txt"), "utf8").split("\n")[0];
      const m = /^-ctk (\S+) -ctv (\S+)$/.exec(first);
      if (!m) throw new Error(`${dir}/llamacpp_flags.txt: first line '${first}' is not '-ctk T -ctv T'`);
      const key = `${m[1]}/${m[2]}`;
      if (!emitted.has(key)) emitted.set(key, []);
      emitted.get(key).push(`K ${k}, V ${v}`);
    }
  const { llama, version } = await loadLlama(nodeModules);
  const { file, config } = builtinGguf(work);
  const model = await llama.loadModel({ modelPath: file, gpuLayers: 0 });
  let seed = 7;
  const ids = [256, ...Array.from({ length: 95 }, () => ((seed = (seed * 1103515245 + 12345) % 2147483648) % 96) + 32)];
  const reference = await (async () => {
    const ctx = await makeContext(model, { k: "f16", v: "f16" }, 256);
    const rows = await logitsAt(ctx.getSequence(), ids, config.vocab_size);
    await ctx.dispose();
    return rows;
  })();
  const rows = [];
  let failed = false;
  for (const [key, from] of [...emitted].sort()) {
    const pair = parsePair(key);
    let row = { pair: key, from };
    try {
      const ctx = await makeContext(model, pair, 256);
      const got = await logitsAt(ctx.getSequence(), ids, config.vocab_size);
      await ctx.dispose();
      let finite = true, maxDiff = 0, agree = 0;
      got.forEach((r, t) => {
        let a = 0, b = 0;
        r.forEach((x, v) => {
          if (!Number.isFinite(x)) finite = false;
          maxDiff = Math.max(maxDiff, Math.abs(x - reference[t][v]));
          if (x > r[a]) a = v;
          if (reference[t][v] > reference[t][b]) b = v;
        });
        agree += a === b;
      });
      const quantized = key !== "f16/f16";
      // Applied: a quantized cache must move some logit; near f16: the argmax mostly holds.
      const ok = finite && (!quantized || maxDiff > 0) && agree >= 0.75 * ids.length;
      row = { ...row, accepted: true, finite, max_abs_diff_vs_f16: maxDiff, argmax_agree_vs_f16: agree,
              positions: ids.length, ok };
    } catch (e) {
      row = { ...row, accepted: false, error: String(e.message || e), ok: false };
    }
    failed ||= !row.ok;
    rows.push(row);
    console.log(`${key}: ${row.accepted ? `accepted, max |diff| vs f16 ${row.max_abs_diff_vs_f16.toExponential(2)}, ` +
                `argmax ${row.argmax_agree_vs_f16}/${ids.length}` : "REFUSED: " + row.error}${row.ok ? "" : "  <- FAILS"}`);
  }
  await model.dispose();
  fs.writeFileSync(path.join(work, "accept.json"),
                   JSON.stringify({ schema: "kvmix.engine.llamacpp.accept", version: 1, node_llama_cpp: version, pairs: rows }, null, 1) + "\n");
  if (failed) process.exit(1);
  console.log(`llama.cpp ${version} accepts all ${rows.length} cache-type pairs kvmix's export emits`);
}

// ---- score ------------------------------------------------------------------------------------

function firstLine(ids) {
  const bytes = ids.filter((t) => t < 256);
  return Buffer.from(bytes).toString("utf8").split("\n")[0].trim();
}

async function score(nodeModules, work, tasksFile, outFile, pairs) {
  fs.mkdirSync(work, { recursive: true });
  const tasks = JSON.parse(fs.readFileSync(tasksFile, "utf8"));
  if (tasks.schema !== "kvmix.tasks") throw new Error(`${tasksFile}: schema is not kvmix.tasks`);
  const { llama, version } = await loadLlama(nodeModules);
  const { file, config } = builtinGguf(work);
  const model = await llama.loadModel({ modelPath: file, gpuLayers: 0 });
  const results = [];
  for (const p of pairs) {
    const pair = parsePair(p);
    for (const task of tasks.tasks) {
      const longest = Math.max(...task.samples.map((s) => s.prompt.length + Math.max(s.continuation.length, task.max_new_tokens || 0)));
      const ctx = await makeContext(model, pair, Math.min(config.max_position_embeddings, longest + 8));
      const seq = ctx.getSequence();
      const r = { pair: p, task: task.name, samples: task.samples.length };
      if (task.generative) {
        if (task.scoring !== "exact") throw new Error(`${tasksFile}: task ${task.name}: only exact-match scoring is implemented here`);
        const correct = [];
        for (const s of task.samples) {
          await seq.clearHistory();
          const out = [];
          // Greedy: the prompt, then the most likely next token until a newline, an end id or
          // the budget, as kvmix eval generates.
          let rows = await logitsAt(seq, s.prompt, config.vocab_size, s.prompt.length - 1);
          while (out.length < task.max_new_tokens) {
            const last = rows[rows.length - 1];
            let best = 0;
            for (let v = 1; v < last.length; ++v) if (last[v] > last[best]) best = v;
            if (task.stop_ids.includes(best)) break;
            out.push(best);
            if (best === NEWLINE) break;
            rows = await logitsAt(seq, [best], config.vocab_size);
          }
          correct.push(firstLine(out) === s.answer);
        }
        r.metric = "exact_match";
        r.correct = correct.filter(Boolean).length;
        r.score = r.correct / correct.length;
      } else {
        let nll = 0, count = 0;
        for (const s of task.samples) {
          await seq.clearHistory();
          const ids = [...s.prompt, ...s.continuation];
          const rows = await logitsAt(seq, ids.slice(0, -1), config.vocab_size, s.prompt.length - 1);
          s.continuation.forEach((target, i) => {
            const row = rows[i];
            const m = Math.max(...row);
            const lse = m + Math.log(row.reduce((a, x) => a + Math.exp(x - m), 0));
            nll += lse - row[target];
            ++count;
          });
        }
        r.metric = "perplexity";
        r.tokens = count;
        r.score = Math.exp(nll / count);
      }
      await ctx.dispose();
      console.log(`${p} ${task.name}: ${r.metric} ${r.score.toFixed(4)}`);
      results.push(r);
    }
  }
  await model.dispose();
  const report = { schema: "kvmix.engine.llamacpp.scores", version: 1, node_llama_cpp: version,
                   tasks: path.basename(tasksFile), results };
  fs.writeFileSync(outFile + ".tmp", JSON.stringify(report, null, 1) + "\n");
  fs.renameSync(outFile + ".tmp", outFile);
}

const [mode, ...rest] = process.argv.slice(2);
if (mode === "accept" && rest.length === 3) await accept(...rest);
else if (mode === "score" && rest.length >= 5) await score(rest[0], rest[1], rest[2], rest[3], rest.slice(4));
else usage();
