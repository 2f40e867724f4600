#!/usr/bin/env python3
"""Writes a Hugging Face checkpoint with the exact shapes of a known model and random weights, for
timing kvmix where no real checkpoint can be downloaded (GPU machines have no network):

    python3 scripts/gpu/synthetic_llama.py OUT_DIR [--shape llama-3.1-8b|tiny] [--device cuda]

The weights are drawn on --device (normal, std 0.02; norms 1) in bfloat16 and saved as shards of
at most 4 GiB with model.safetensors.index.json; the tokenizer is kvmix's built-in one (its ids
all lie below the vocabulary size). Only throughput means anything on such a model: its logits
are noise. `tiny` has the same structure at toy size, for rehearsing the GPU script on a CPU.
"""
import argparse
import json
import os
import shutil

import torch
from safetensors.torch import save_file

SHAPES = {
    # Llama-3.1-8B's config.json, as published.
    "llama-3.1-8b": dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                         num_attention_heads=32, num_key_value_heads=8, vocab_size=128256,
                         max_position_embeddings=131072, rope_theta=500000.0,
                         rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0,
                                           high_freq_factor=4.0,
                                           original_max_position_embeddings=8192)),
    "tiny": dict(hidden_size=128, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, vocab_size=512, max_position_embeddings=65536,
                 rope_theta=500000.0, rope_scaling=None),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--shape", default="llama-3.1-8b", choices=sorted(SHAPES))
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    s = SHAPES[a.shape]
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    os.makedirs(a.out, exist_ok=True)
    config = dict(architectures=["LlamaForCausalLM"], model_type="llama", hidden_act="silu",
                  rms_norm_eps=1e-5, tie_word_embeddings=False, torch_dtype="bfloat16",
                  attention_bias=False, mlp_bias=False, bos_token_id=256, eos_token_id=257,
                  head_dim=s["hidden_size"] // s["num_attention_heads"], **s)
    if config["rope_scaling"] is None:
        del config["rope_scaling"]
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        src = os.path.join(root, "models", "builtin", name)
        if os.path.exists(src):
            shutil.copy(src, os.path.join(a.out, name))

    h, i, d = s["hidden_size"], s["intermediate_size"], config["head_dim"]
    q, kv = s["num_attention_heads"] * d, s["num_key_value_heads"] * d
    shapes = {"model.embed_tokens.weight": (s["vocab_size"], h), "model.norm.weight": (h,),
              "lm_head.weight": (s["vocab_size"], h)}
    for l in range(s["num_hidden_layers"]):
        p = f"model.layers.{l}."
        shapes.update({p + "self_attn.q_proj.weight": (q, h), p + "self_attn.k_proj.weight": (kv, h),
                       p + "self_attn.v_proj.weight": (kv, h), p + "self_attn.o_proj.weight": (h, q),
                       p + "mlp.gate_proj.weight": (i, h), p + "mlp.up_proj.weight": (i, h),
                       p + "mlp.down_proj.weight": (h, i), p + "input_layernorm.weight": (h,),
                       p + "post_attention_layernorm.weight": (h,)})
    gen = torch.Generator(device=a.device).manual_seed(a.seed)
    limit, shard, size, shards = 4 << 30, {}, 0, []

    def flush():
        nonlocal shard, size
        if shard:
            shards.append(shard)
            save_file(shard, os.path.join(a.out, f"part-{len(shards)}.safetensors"))
        shard, size = {}, 0

    for name, shape in shapes.items():
        if len(shape) == 1:
            t = torch.ones(shape, dtype=torch.bfloat16, device=a.device)
        else:
            t = torch.empty(shape, dtype=torch.bfloat16, device=a.device).normal_(0, 0.02, generator=gen)
        nbytes = t.numel() * 2
        if size + nbytes > limit:
            flush()
        shard[name] = t.cpu()
        size += nbytes
    flush()
    n = len(shards)
    weight_map, total = {}, 0
    for k, sh in enumerate(shards, 1):
        final = f"model-{k:05d}-of-{n:05d}.safetensors"
        os.replace(os.path.join(a.out, f"part-{k}.safetensors"), os.path.join(a.out, final))
        for name, t in sh.items():
            weight_map[name] = final
            total += t.numel() * 2
    with open(os.path.join(a.out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    print(f"{a.shape}: {len(shapes)} tensors, {total / 1e9:.2f} GB in {n} shards, {a.out}")


if __name__ == "__main__":
    main()
