#!/usr/bin/env python3
"""Reference logits from Hugging Face transformers, for scripts/compare_transformers.mjs.

Runs wherever a Python has torch and transformers (CPU is enough; no kvmix needed there). For each
case it builds a random tiny LlamaForCausalLM or Qwen2ForCausalLM, saves it with save_pretrained
(config.json and model.safetensors, fp32), draws 48 token ids and records transformers' logits at
every position (eager attention, fp32):

    python3 scripts/transformers_reference.py OUT_DIR

OUT_DIR/<case>/ gets the checkpoint, OUT_DIR/<case>.reference.json the ids and logits, and
OUT_DIR/versions.json the torch and transformers versions. Then, on a machine with kvmix built:

    node scripts/compare_transformers.mjs build/kvmix OUT_DIR results/transformers_compare

The cases are those of scripts/compare_llamacpp.mjs: grouped-query Llama with an untied LM head,
the same with Llama 3.1 RoPE scaling, and Qwen2 with q/k/v biases and tied embeddings.
"""
import json
import os
import sys

import torch
import transformers
from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

TOKENS = 48
COMMON = dict(vocab_size=300, hidden_size=64, intermediate_size=160, num_hidden_layers=3,
              num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=512,
              rms_norm_eps=1e-5, rope_theta=10000.0, hidden_act="silu", bos_token_id=256,
              eos_token_id=257)

CASES = [
    ("llama-gqa", LlamaConfig, LlamaForCausalLM, dict(tie_word_embeddings=False), 11),
    ("llama3-rope-scaling", LlamaConfig, LlamaForCausalLM,
     dict(tie_word_embeddings=False,
          rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                            original_max_position_embeddings=64)), 13),
    ("qwen2-bias-tied", Qwen2Config, Qwen2ForCausalLM,
     dict(tie_word_embeddings=True, rope_theta=1000000.0, num_key_value_heads=1, rms_norm_eps=1e-6,
          use_sliding_window=False), 12),
]


def randomize(model, seed):
    """Weights with spread (transformers' own init, std 0.02, gives near-constant logits)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight") or "layernorm" in name:
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith(".bias"):
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
            elif "embed_tokens" in name:
                p.copy_(torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.25 * torch.randn(p.shape, generator=g))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: transformers_reference.py OUT_DIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, config_cls, model_cls, extra, seed in CASES:
        config = config_cls(**{**COMMON, **extra})
        config._attn_implementation = "eager"
        torch.manual_seed(seed)
        model = model_cls(config).to(torch.float32).eval()
        randomize(model, seed)
        folder = os.path.join(out, name)
        model.save_pretrained(folder)
        g = torch.Generator().manual_seed(seed + 100)
        ids = torch.randint(0, config.vocab_size, (1, TOKENS), generator=g)
        with torch.no_grad():
            logits = model(ids).logits[0].to(torch.float64)
        with open(os.path.join(out, name + ".reference.json"), "w") as f:
            json.dump({"case": name, "tokens": ids[0].tolist(), "logits": logits.tolist()}, f)
        print(f"{name}: saved, logits spread {float((logits.max(-1).values - logits.min(-1).values).mean()):.1f}")
    with open(os.path.join(out, "versions.json"), "w") as f:
        json.dump({"torch": torch.__version__, "transformers": transformers.__version__}, f)


if __name__ == "__main__":
    main()
