"""kvmix's forward pass against Hugging Face transformers, the reference implementation of every
checkpoint kvmix loads.

For each case transformers builds a random model (or loads the built-in one), saves it with
save_pretrained (config.json, fp32 model.safetensors), and computes its logits at every position of
48 random token ids with eager attention in fp32; `kvmix logits` runs on the saved folder with the
same ids. Passing: at every position and every vocabulary entry |kvmix - transformers| <= 1e-4,
and the argmax equal at every position.

Negative controls show the comparison can fail: kvmix given the RoPE-scaled checkpoint with its
rope_scaling removed from config.json, and given the Llama checkpoint with one key projection
scaled by 1.01, must both differ by more than the tolerance.

The report (largest differences per case, versions) is written to WORK/report.json;
results/transformers_compare.md records one.
"""
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_util  # noqa: E402

sys.path.insert(0, os.path.join(check_util.SOURCE_DIR, "scripts"))

TOKENS = 48
TOLERANCE = 1e-4
COMMON = dict(vocab_size=300, hidden_size=64, intermediate_size=160, num_hidden_layers=3,
              num_attention_heads=4, num_key_value_heads=2, head_dim=16,
              max_position_embeddings=512, rms_norm_eps=1e-5, rope_theta=10000.0,
              hidden_act="silu", bos_token_id=256, eos_token_id=257)


def cases(transformers):
    """(name, config or None for the built-in model, model class, seed, what it covers)."""
    t = transformers
    return [
        ("llama-gqa", t.LlamaConfig(**COMMON, tie_word_embeddings=False), t.LlamaForCausalLM, 11,
         "Llama, 4 query heads sharing 2 KV heads, untied LM head"),
        ("llama3-rope-scaling",
         t.LlamaConfig(**COMMON, tie_word_embeddings=False,
                       rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0,
                                         high_freq_factor=4.0,
                                         original_max_position_embeddings=64)),
         t.LlamaForCausalLM, 13,
         "llama-gqa with Llama 3.1 RoPE scaling (factor 8, original context 64)"),
        ("mistral",
         t.MistralConfig(**COMMON, tie_word_embeddings=False, sliding_window=4096),
         t.MistralForCausalLM, 14,
         "Mistral (its 4096-token sliding window is longer than the 48 tokens: kvmix refuses "
         "contexts past the window)"),
        ("qwen2-bias-tied",
         t.Qwen2Config(**{**COMMON, "num_key_value_heads": 1, "rms_norm_eps": 1e-6,
                          "rope_theta": 1000000.0},
                       tie_word_embeddings=True, use_sliding_window=False),
         t.Qwen2ForCausalLM, 12, "Qwen2: q/k/v biases, 4 query heads sharing 1 KV head, tied embeddings"),
        ("builtin", None, t.LlamaForCausalLM, 15,
         "the built-in model (models/builtin): 8 layers, hidden 128, tied embeddings"),
    ]


def kvmix_logits(kvmix, folder, ids, out):
    check_util.run_kvmix(kvmix, "logits", "-m", folder, "--tokens", ",".join(map(str, ids)),
                         "-o", out, "-q")
    return check_util.read_json(out)["logits"]


def compare(torch, ours, reference):
    ours = torch.tensor(ours, dtype=torch.float64)
    if ours.shape != reference.shape:
        check_util.fail(f"kvmix gave logits of shape {tuple(ours.shape)}, transformers "
                        f"{tuple(reference.shape)}")
    diff = (ours - reference).abs()
    spread = reference.max(-1).values - reference.min(-1).values
    return {
        "max_abs_diff": float(diff.max()),
        "max_diff_over_spread": float((diff.max(-1).values / spread).max()),
        "mean_logit_spread": float(spread.mean()),
        "argmax_agree": int((ours.argmax(-1) == reference.argmax(-1)).sum()),
        "positions": int(reference.shape[0]),
    }


def main():
    args = check_util.parse_args(__doc__.splitlines()[0])
    try:
        import torch
        import transformers
        # Weights with spread, as the GPU run's reference script draws them (transformers' own
        # init, std 0.02, gives near-constant logits that a wrong forward pass could match).
        from transformers_reference import randomize
    except ImportError as e:
        check_util.skip(f"transformers is not installed in this Python ({e})")
    torch.set_num_threads(1)  # sums in one order, as kvmix's reference path does not promise either
    report = {"schema": "kvmix.compare.transformers", "version": 2, "torch": torch.__version__,
              "transformers": transformers.__version__, "tolerance": TOLERANCE, "cases": [],
              "negative_controls": []}
    failures = []
    saved = {}
    for name, config, model_cls, seed, what in cases(transformers):
        folder = os.path.join(args.work, name)
        if config is None:
            source = os.path.join(check_util.SOURCE_DIR, "models", "builtin")
            model = model_cls.from_pretrained(source, dtype=torch.float32,
                                              attn_implementation="eager")
            shutil.copytree(source, folder)
        else:
            config._attn_implementation = "eager"
            torch.manual_seed(seed)
            model = model_cls(config).to(torch.float32)
            randomize(model, seed)
            model.save_pretrained(folder)
        model.eval()
        g = torch.Generator().manual_seed(seed + 100)
        ids = torch.randint(0, model.config.vocab_size, (1, TOKENS), generator=g)
        with torch.no_grad():
            reference = model(ids).logits[0].to(torch.float64)
        ours = kvmix_logits(args.kvmix, folder, ids[0].tolist(), folder + ".kvmix.json")
        row = {"case": name, "what": what, **compare(torch, ours, reference)}
        report["cases"].append(row)
        saved[name] = (folder, ids[0].tolist(), reference)
        ok = row["max_abs_diff"] <= TOLERANCE and row["argmax_agree"] == TOKENS
        print(f"{name}: max |kvmix - transformers| {row['max_abs_diff']:.2e} "
              f"(spread {row['mean_logit_spread']:.1f}), argmax {row['argmax_agree']}/{TOKENS}"
              f"{'' if ok else '  <- FAILS'}")
        if not ok:
            failures.append(name)

    # Negative control 1: the scaled checkpoint read without its RoPE scaling.
    folder, ids, reference = saved["llama3-rope-scaling"]
    unscaled = folder + "-unscaled"
    shutil.copytree(folder, unscaled)
    config_path = os.path.join(unscaled, "config.json")
    config = check_util.read_json(config_path)
    config.pop("rope_scaling", None)
    config.pop("rope_parameters", None)  # transformers 5 writes the scaling here
    config["rope_theta"] = 10000.0
    with open(config_path, "w", encoding="utf-8") as f:
        json.dump(config, f)
    # Negative control 2: one key projection scaled by 1.01.
    folder2, ids2, reference2 = saved["llama-gqa"]
    perturbed = folder2 + "-perturbed"
    shutil.copytree(folder2, perturbed)
    from safetensors.torch import load_file, save_file
    weights_path = os.path.join(perturbed, "model.safetensors")
    weights = load_file(weights_path)
    weights["model.layers.1.self_attn.k_proj.weight"] *= 1.01
    save_file(weights, weights_path, metadata={"format": "pt"})
    for name, fold, tok, ref in [("rope scaling removed", unscaled, ids, reference),
                                 ("layer 1 k_proj x 1.01", perturbed, ids2, reference2)]:
        row = {"control": name,
               **compare(torch, kvmix_logits(args.kvmix, fold, tok, fold + ".kvmix.json"), ref)}
        report["negative_controls"].append(row)
        print(f"negative control, {name}: max diff {row['max_abs_diff']:.2e}, "
              f"argmax {row['argmax_agree']}/{TOKENS}")
        if row["max_abs_diff"] <= TOLERANCE:
            failures.append(f"negative control '{name}' passed: the comparison cannot see it")

    with open(os.path.join(args.work, "report.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
    if failures:
        check_util.fail(", ".join(failures))
    print("all cases within", TOLERANCE)


if __name__ == "__main__":
    main()
