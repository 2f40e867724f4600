"""Paired comparisons of the caches of a policy study (policies.json of `kvmix policies`).

Every cache of the study ran on the same samples, so two caches are compared sample by sample,
which separates much smaller differences than their two separate intervals do:
  - exact match (recall, arith): the exact McNemar test, a two-sided binomial test on the samples
    one cache answers and the other does not;
  - perplexity (text): a paired bootstrap over the windows (the same resampled windows for both
    caches) of the ratio of the two perplexities, with its 95% percentile interval.

Pairs: each cache against fp16, and at each budget each cache that stands at it against the best
one there (the policies at that budget, and the budget-free quantized caches whose true bytes are
within it and above the next budget down: the closest comparison at equal memory). "Best" is the
highest exact match or the lowest perplexity; a pair whose test cannot tell the two apart says
that the best is not established. Writes a Markdown table to stdout and,
with --out, the JSON.

    python scripts/python/policies_paired.py results/policies.json --out results/policies_paired.json
"""
import argparse
import json
import math
import os
import random
import sys


def mcnemar_p(only_a, only_b):
    """Exact two-sided McNemar p-value from the discordant counts."""
    n = only_a + only_b
    if n == 0:
        return 1.0
    k = min(only_a, only_b)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2.0 ** n
    return min(1.0, 2 * tail)


def ppl_ratio_interval(a, b, resamples, seed):
    """Paired bootstrap of perplexity(a) / perplexity(b) over windows: (ratio, lo, hi)."""
    nll_a, tok_a = a["sample_nll"], a["sample_tokens"]
    nll_b, tok_b = b["sample_nll"], b["sample_tokens"]
    if tok_a != tok_b:
        raise ValueError(f"{a['label']} and {b['label']}: not the same windows")
    n = len(nll_a)
    rng = random.Random(seed)

    def ratio(idx):
        t = sum(tok_a[i] for i in idx)
        return math.exp((sum(nll_a[i] for i in idx) - sum(nll_b[i] for i in idx)) / t)

    point = ratio(range(n))
    draws = sorted(ratio([rng.randrange(n) for _ in range(n)]) for _ in range(resamples))
    return point, draws[int(0.025 * resamples)], draws[int(0.975 * resamples) - 1]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("study", help="policies.json of `kvmix policies`")
    p.add_argument("--resamples", type=int, default=10000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pair", action="append", default=[], metavar="A|B",
                   help="also compare the caches labelled A and B, on every task (repeatable)")
    p.add_argument("--out")
    args = p.parse_args()
    with open(args.study, encoding="utf-8") as f:
        study = json.load(f)
    if study.get("schema") != "kvmix.policies":
        sys.exit(f"{args.study}: not a policies.json")
    results = study["results"]
    budgets = sorted(float(b) for b in study["budgets"])
    by_task = {}
    for r in results:
        by_task.setdefault(r["task"], []).append(r)

    def standing(r, b):
        """Whether result r stands at budget b: a policy at b, or a budget-free cache whose true
        bytes fall in (next budget down, b]."""
        if r["budget"] > 0:
            return r["budget"] == b
        if r["label"] == "fp16":
            return False
        lower = max([x for x in budgets if x < b], default=0.0)
        return lower < r["bytes_fraction"] <= b

    rows = []
    for task, rs in by_task.items():
        fp16 = next(r for r in rs if r["label"] == "fp16")
        pairs = [(r, fp16, "vs fp16") for r in rs if r is not fp16]
        for b in budgets:
            at = [r for r in rs if standing(r, b)]
            if not at:
                continue
            best = (max(at, key=lambda r: r["score"]) if fp16["metric"] == "exact_match"
                    else min(at, key=lambda r: r["score"]))
            pairs += [(best, r, f"best at {100 * b:g}%") for r in at if r is not best]
        for spec in args.pair:
            names = spec.split("|")
            if len(names) != 2:
                sys.exit(f"--pair {spec!r}: not two labels separated by |")
            found = [next((r for r in rs if r["label"] == n), None) for n in names]
            if None in found:
                sys.exit(f"--pair {spec!r}: task {task} has no cache labelled {names[found.index(None)]!r}")
            pairs.append((found[0], found[1], "asked"))
        for a, c, why in pairs:
            row = {"task": task, "a": a["label"], "b": c["label"], "why": why,
                   "a_score": a["score"], "b_score": c["score"]}
            if a["metric"] == "exact_match":
                only_a = sum(1 for x, y in zip(a["correct"], c["correct"]) if x and not y)
                only_b = sum(1 for x, y in zip(a["correct"], c["correct"]) if y and not x)
                row.update({"only_a": only_a, "only_b": only_b, "p": mcnemar_p(only_a, only_b)})
            else:
                ratio, lo, hi = ppl_ratio_interval(a, c, args.resamples, args.seed)
                row.update({"ppl_ratio": ratio, "ppl_ratio_lo": lo, "ppl_ratio_hi": hi})
            rows.append(row)

    print("| task | pair | comparison | scores | only the first right | only the second right | exact McNemar p / ppl ratio [95% CI] |")
    print("|---|---|---|---|---:|---:|---:|")
    for r in rows:
        if "p" in r:
            print(f"| {r['task']} | {r['a']} vs {r['b']} | {r['why']} | {100 * r['a_score']:.1f}% / "
                  f"{100 * r['b_score']:.1f}% | {r['only_a']} | {r['only_b']} | {r['p']:.2g} |")
        else:
            print(f"| {r['task']} | {r['a']} vs {r['b']} | {r['why']} | {r['a_score']:.3f} / "
                  f"{r['b_score']:.3f} | | | {r['ppl_ratio']:.4f} [{r['ppl_ratio_lo']:.4f}, "
                  f"{r['ppl_ratio_hi']:.4f}] |")
    if args.out:
        out = {"schema": "kvmix.policies_paired", "version": 1,
               "command": " ".join(["python", "scripts/python/policies_paired.py"] + sys.argv[1:]),
               "resamples": args.resamples, "seed": args.seed, "pairs": rows}
        with open(args.out + ".tmp", "w", encoding="utf-8") as f:
            json.dump(out, f, indent=1)
            f.write("\n")
        os.replace(args.out + ".tmp", args.out)


if __name__ == "__main__":
    main()
