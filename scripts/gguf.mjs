// Checkpoint files in JavaScript, for running kvmix's checkpoints in llama.cpp (node-llama-cpp):
// safetensors read and written (fp32, as save_pretrained lays them out), and GGUF written the way
// llama.cpp's convert_hf_to_gguf.py converts a Llama or Qwen2 checkpoint (fp32 tensors).
// Used by scripts/compare_llamacpp.mjs and scripts/llamacpp_engine.mjs.
import fs from "node:fs";

// ---- safetensors ------------------------------------------------------------------------------------

export function writeSafetensors(file, weights) {
  const header = { __metadata__: { format: "pt" } };
  let offset = 0;
  for (const [name, t] of weights) {
    header[name] = { dtype: "F32", shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const parts = [len, Buffer.from(json, "utf8")];
  for (const [, t] of weights) parts.push(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  fs.writeFileSync(file, Buffer.concat(parts));
}

// ---- GGUF (version 3; ggml/docs/gguf.md) --------------------------------------------------------------

const GGUF = { UINT32: 4, INT32: 5, FLOAT32: 6, STRING: 8, ARRAY: 9 };
const ALIGN = 32;

class Writer {
  constructor() { this.parts = []; this.size = 0; }
  push(b) { this.parts.push(b); this.size += b.length; }
  u32(v) { const b = Buffer.alloc(4); b.writeUInt32LE(v); this.push(b); }
  i32(v) { const b = Buffer.alloc(4); b.writeInt32LE(v); this.push(b); }
  u64(v) { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); this.push(b); }
  f32(v) { const b = Buffer.alloc(4); b.writeFloatLE(v); this.push(b); }
  str(s) { const b = Buffer.from(s, "utf8"); this.u64(b.length); this.push(b); }
  pad() { const n = (ALIGN - (this.size % ALIGN)) % ALIGN; if (n) this.push(Buffer.alloc(n)); }
}

function kv(w, key, type, value) {
  w.str(key);
  w.u32(type);
  if (type === GGUF.UINT32) w.u32(value);
  else if (type === GGUF.FLOAT32) w.f32(value);
  else if (type === GGUF.STRING) w.str(value);
  else throw new Error("scalar kv type " + type);
}

function kvArray(w, key, elemType, values) {
  w.str(key);
  w.u32(GGUF.ARRAY);
  w.u32(elemType);
  w.u64(values.length);
  for (const v of values) elemType === GGUF.STRING ? w.str(v) : elemType === GGUF.INT32 ? w.i32(v) : w.u32(v);
}

// GPT-2's byte-to-unicode table: the 256 byte tokens of a byte-level BPE vocabulary.
function byteTokens() {
  const bs = [];
  for (let b = 33; b <= 126; ++b) bs.push(b);
  for (let b = 161; b <= 172; ++b) bs.push(b);
  for (let b = 174; b <= 255; ++b) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; ++b) if (!bs.includes(b)) { bs.push(b); cs.push(256 + n++); }
  const map = new Array(256);
  bs.forEach((b, i) => { map[b] = String.fromCodePoint(cs[i]); });
  return map;
}

// convert_hf_to_gguf.py LlamaModel.permute: per head, rows (i, hd/2 + i) become (2i, 2i + 1).
function permuteRows(t, heads) {
  const [rows, cols] = t.shape, hd = rows / heads, half = hd / 2;
  const out = new Float32Array(t.data.length);
  for (let h = 0; h < heads; ++h)
    for (let i = 0; i < half; ++i)
      for (let j = 0; j < 2; ++j) {
        const src = (h * hd + j * half + i) * cols, dst = (h * hd + 2 * i + j) * cols;
        out.set(t.data.subarray(src, src + cols), dst);
      }
  return { shape: t.shape, data: out };
}

// Llama 3.1's RoPE scaling, as convert_hf_to_gguf.py hands it to llama.cpp: one divisor per
// frequency pair (1 for short wavelengths, `factor` for long ones, a smooth blend between), stored
// as the rope_freqs tensor. kvmix implements the same rule from the paper's definition in C++
// (models/rope.cpp); this is a second, separate implementation of it.
function llama3RopeFactors(c) {
  const rs = c.rope_scaling, dim = c.head_dim, base = c.rope_theta;
  const old = rs.original_max_position_embeddings;
  const lowWavelen = old / rs.low_freq_factor, highWavelen = old / rs.high_freq_factor;
  const out = new Float32Array(dim / 2);
  for (let i = 0; i < dim / 2; ++i) {
    const freq = 1 / Math.pow(base, (2 * i) / dim);
    const wavelen = (2 * Math.PI) / freq;
    if (wavelen < highWavelen) out[i] = 1;
    else if (wavelen > lowWavelen) out[i] = rs.factor;
    else {
      const smooth = (old / wavelen - rs.low_freq_factor) / (rs.high_freq_factor - rs.low_freq_factor);
      out[i] = 1 / ((1 - smooth) / rs.factor + smooth);
    }
  }
  return { shape: [dim / 2], data: out };
}

export function writeGguf(file, c, weights) {
  const arch = c.model_type;  // "llama" or "qwen2"
  const llama = arch === "llama";
  const tensors = [];
  const add = (name, hfName, f = (t) => t) => tensors.push([name, f(weights.get(hfName))]);
  add("token_embd.weight", "model.embed_tokens.weight");
  for (let l = 0; l < c.num_hidden_layers; ++l) {
    const p = `model.layers.${l}.`, b = `blk.${l}.`;
    add(b + "attn_norm.weight", p + "input_layernorm.weight");
    add(b + "attn_q.weight", p + "self_attn.q_proj.weight", (t) => (llama ? permuteRows(t, c.num_attention_heads) : t));
    add(b + "attn_k.weight", p + "self_attn.k_proj.weight", (t) => (llama ? permuteRows(t, c.num_key_value_heads) : t));
    add(b + "attn_v.weight", p + "self_attn.v_proj.weight");
    if (c.attention_bias) {
      add(b + "attn_q.bias", p + "self_attn.q_proj.bias");
      add(b + "attn_k.bias", p + "self_attn.k_proj.bias");
      add(b + "attn_v.bias", p + "self_attn.v_proj.bias");
    }
    add(b + "attn_output.weight", p + "self_attn.o_proj.weight");
    add(b + "ffn_norm.weight", p + "post_attention_layernorm.weight");
    add(b + "ffn_gate.weight", p + "mlp.gate_proj.weight");
    add(b + "ffn_up.weight", p + "mlp.up_proj.weight");
    add(b + "ffn_down.weight", p + "mlp.down_proj.weight");
  }
  add("output_norm.weight", "model.norm.weight");
  if (!c.tie_word_embeddings) add("output.weight", "lm_head.weight");
  const rs = c.rope_scaling;
  if (rs && rs.rope_type === "llama3") tensors.push(["rope_freqs.weight", llama3RopeFactors(c)]);

  const bytes = byteTokens();
  const vocab = [];
  for (let i = 0; i < c.vocab_size; ++i) vocab.push(i < 256 ? bytes[i] : `<tok_${i}>`);
  const w = new Writer();
  w.push(Buffer.from("GGUF", "latin1"));
  w.u32(3);
  w.u64(tensors.length);
  const kvs = new Writer();
  let nkv = 0;
  const put = (k, t, v) => { kv(kvs, k, t, v); ++nkv; };
  const putArr = (k, t, v) => { kvArray(kvs, k, t, v); ++nkv; };
  put("general.architecture", GGUF.STRING, arch);
  put("general.name", GGUF.STRING, "kvmix random " + arch);
  put("general.alignment", GGUF.UINT32, ALIGN);
  put(`${arch}.context_length`, GGUF.UINT32, c.max_position_embeddings);
  put(`${arch}.embedding_length`, GGUF.UINT32, c.hidden_size);
  put(`${arch}.block_count`, GGUF.UINT32, c.num_hidden_layers);
  put(`${arch}.feed_forward_length`, GGUF.UINT32, c.intermediate_size);
  put(`${arch}.attention.head_count`, GGUF.UINT32, c.num_attention_heads);
  put(`${arch}.attention.head_count_kv`, GGUF.UINT32, c.num_key_value_heads);
  put(`${arch}.rope.dimension_count`, GGUF.UINT32, c.head_dim);
  put(`${arch}.rope.freq_base`, GGUF.FLOAT32, c.rope_theta);
  put(`${arch}.attention.layer_norm_rms_epsilon`, GGUF.FLOAT32, c.rms_norm_eps);
  put(`${arch}.vocab_size`, GGUF.UINT32, c.vocab_size);
  put("tokenizer.ggml.model", GGUF.STRING, "gpt2");
  put("tokenizer.ggml.pre", GGUF.STRING, "default");
  putArr("tokenizer.ggml.tokens", GGUF.STRING, vocab);
  putArr("tokenizer.ggml.token_type", GGUF.INT32, vocab.map((_, i) => (i < 256 ? 1 : 3)));
  putArr("tokenizer.ggml.merges", GGUF.STRING, []);
  put("tokenizer.ggml.bos_token_id", GGUF.UINT32, 256);
  put("tokenizer.ggml.eos_token_id", GGUF.UINT32, 257);
  w.u64(nkv);
  for (const p of kvs.parts) w.push(p);
  let offset = 0;
  for (const [name, t] of tensors) {
    w.str(name);
    w.u32(t.shape.length);
    for (const d of t.shape.slice().reverse()) w.u64(d);  // ggml lists the innermost dim first
    w.u32(0);  // GGML_TYPE_F32
    w.u64(offset);
    offset += Math.ceil(t.data.byteLength / ALIGN) * ALIGN;
  }
  w.pad();
  for (const [, t] of tensors) {
    w.push(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    w.pad();
  }
  fs.writeFileSync(file, Buffer.concat(w.parts));
}

// Reads an fp32 (or bf16/fp16, widened) safetensors file into Map name -> {shape, data}. The header
// is checked as an untrusted file: sizes, offsets within the file, known dtypes.
export function readSafetensors(file) {
  const buf = fs.readFileSync(file);
  const fail = (why) => { throw new Error(`${file}: ${why}`); };
  if (buf.length < 8) fail("shorter than its 8-byte header length");
  const n = Number(buf.readBigUInt64LE(0));
  if (n > buf.length - 8) fail(`header length ${n} runs past the end of the file`);
  let header;
  try { header = JSON.parse(buf.subarray(8, 8 + n).toString("utf8")); } catch (e) { fail(`header is not JSON (${e.message})`); }
  const base = 8 + n, out = new Map();
  const width = { F32: 4, BF16: 2, F16: 2 };
  for (const [name, t] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    if (!(t.dtype in width)) fail(`tensor ${name} has dtype ${t.dtype} (F32, BF16, F16 are read)`);
    const count = t.shape.reduce((a, d) => (Number.isSafeInteger(d) && d >= 0 ? a * d : fail(`tensor ${name} has a bad shape`)), 1);
    const [lo, hi] = t.data_offsets;
    if (!(Number.isSafeInteger(lo) && Number.isSafeInteger(hi) && lo <= hi && base + hi <= buf.length && hi - lo === count * width[t.dtype]))
      fail(`tensor ${name}: data_offsets [${lo}, ${hi}] do not hold ${count} ${t.dtype} values within the file`);
    const data = new Float32Array(count);
    const bytes = buf.subarray(base + lo, base + hi);
    for (let i = 0; i < count; ++i) {
      if (t.dtype === "F32") data[i] = bytes.readFloatLE(4 * i);
      else if (t.dtype === "BF16") data[i] = new Float32Array(new Uint32Array([bytes.readUInt16LE(2 * i) << 16]).buffer)[0];
      else data[i] = halfToFloat(bytes.readUInt16LE(2 * i));
    }
    out.set(name, { shape: t.shape, data });
  }
  return out;
}

function halfToFloat(h) {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
