"""scripts/python/policies_paired.py against hand-computed oracles: the exact McNemar p-value of
small discordant counts (binomial sums done by hand), and the paired bootstrap of a perplexity
ratio on windows where the ratio is the same in every window (so every resample gives it, and the
interval collapses onto it), run as the script is run, on a hand-built policies.json.

    python tests/python/policies_paired_test.py --kvmix KVMIX --work FOLDER
"""
import argparse
import json
import math
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts", "python"))
from policies_paired import mcnemar_p  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--kvmix")  # unused: the script reads files only
    p.add_argument("--work", required=True)
    args = p.parse_args()
    os.makedirs(args.work, exist_ok=True)

    # 0 against 3: two-sided 2 * (1/8) = 0.25; 1 against 7: 2 * (1 + 8) / 256 = 0.0703125;
    # 5 against 5: min(1, 2 * 638 / 1024) = 1; nothing discordant: 1.
    for a, b, want in [(0, 3, 0.25), (1, 7, 0.0703125), (5, 5, 1.0), (0, 0, 1.0)]:
        got = mcnemar_p(a, b)
        assert abs(got - want) < 1e-12, (a, b, got, want)
        assert mcnemar_p(b, a) == got

    # fp16 and a cache on 4 recall prompts and 3 text windows; the cache's NLL is fp16's plus
    # 0.1 nat per token in every window, so its perplexity is exp(0.1) times fp16's everywhere.
    tokens = [10, 20, 30]
    nll_fp16 = [15.0, 28.0, 51.0]
    nll_cache = [n + 0.1 * t for n, t in zip(nll_fp16, tokens)]
    def text(label, nll, budget):
        return {"label": label, "task": "text", "metric": "perplexity", "budget": budget,
                "bytes_fraction": budget or 1.0, "score": math.exp(sum(nll) / sum(tokens)),
                "sample_nll": nll, "sample_tokens": tokens}
    def recall(label, correct, budget):
        return {"label": label, "task": "recall", "metric": "exact_match", "budget": budget,
                "bytes_fraction": budget or 1.0, "score": sum(correct) / len(correct),
                "correct": correct}
    study = {"schema": "kvmix.policies", "version": 1, "budgets": [0.5],
             "results": [recall("fp16", [1, 1, 1, 0], 0.0), recall("h2o 50%", [0, 0, 1, 1], 0.5),
                         text("fp16", nll_fp16, 0.0), text("h2o 50%", nll_cache, 0.5)]}
    path = os.path.join(args.work, "policies.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(study, f)
    out = os.path.join(args.work, "paired.json")
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "python", "policies_paired.py"), path,
                    "--resamples", "200", "--out", out], check=True, stdout=subprocess.DEVNULL)
    with open(out, encoding="utf-8") as f:
        pairs = json.load(f)["pairs"]
    vs = {(r["task"], r["a"], r["b"]): r for r in pairs}
    r = vs[("recall", "h2o 50%", "fp16")]
    assert (r["only_a"], r["only_b"]) == (1, 2), r
    assert abs(r["p"] - 1.0) < 1e-12, r  # 1 against 2: 2 * (1 + 3) / 8 = 1
    t = vs[("text", "h2o 50%", "fp16")]
    for k in ("ppl_ratio", "ppl_ratio_lo", "ppl_ratio_hi"):
        assert abs(t[k] - math.exp(0.1)) < 1e-9, (k, t[k])
    print("policies_paired: McNemar and the paired bootstrap agree with the hand-computed cases")


if __name__ == "__main__":
    main()
