"""Does calibration KL rank the true front as held-out quality does?

Reads the exhaustive evaluation (exhaustive.json of `kvmix search --exhaustive`) and the held-out
evaluation of its true-front points (`kvmix eval --config FOLDER/front-configs/front-*.json`,
whose eval.json names each config by its file), and reports, per front point, its calibration KL
beside its held-out KL and score on each task, and Spearman's rank correlation (average ranks for
ties) of calibration KL with each held-out figure over the front's points.

    python scripts/python/front_heldout.py --table results/search/exhaustive.json \
        --eval eval-a.json eval-b.json --out results/search/front_heldout.json
"""
import argparse
import json
import math
import os
import re
import sys


def ranks(values):
    """1-based ranks, ties sharing their average rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    r = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return r


def spearman(x, y):
    """Pearson correlation of the ranks; None when either side is constant."""
    rx, ry = ranks(x), ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    return None if sxx == 0 or syy == 0 else sxy / math.sqrt(sxx * syy)


def finite(v, what):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        sys.exit(f"{what}: not a finite number: {v!r}")
    return float(v)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--table", required=True)
    p.add_argument("--eval", required=True, nargs="+", help="eval.json files (the points may be split)")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    with open(args.table, encoding="utf-8") as f:
        table = json.load(f)
    results = []
    for path in args.eval:
        with open(path, encoding="utf-8") as f:
            ev = json.load(f)
        if ev.get("schema") != "kvmix.eval":
            sys.exit(f"{path}: not an eval.json")
        results += ev["results"]
    if table.get("schema") != "kvmix.exhaustive":
        sys.exit(f"{args.table}: not an exhaustive.json")
    configs = table["configurations"]
    front = table["front"]
    points = []
    for n, i in enumerate(front):
        c = configs[i]
        points.append({"front_index": n, "configuration": i,
                       "bytes_per_token": finite(c["bytes_per_token"], "bytes_per_token"),
                       "calibration_kl": finite(c["kl"], "kl"), "heldout": {}})
    tasks = []
    for r in results:
        m = re.search(r"front-(\d+)", str(r["config"]))
        if not m:
            continue
        n = int(m.group(1))
        if n >= len(points):
            sys.exit(f"config {r['config']} is past the front's {len(points)} points")
        if r["task"] in points[n]["heldout"]:
            sys.exit(f"config {r['config']}, task {r['task']}: evaluated twice")
        task = r["task"]
        if task not in tasks:
            tasks.append(task)
        points[n]["heldout"][task] = {"score": finite(r["score"], "score"), "kl": finite(r["kl"], "kl"),
                                      "metric": r["metric"], "samples": r["samples"]}
    missing = [pt["front_index"] for pt in points if set(pt["heldout"]) != set(tasks)]
    if missing:
        sys.exit(f"front points {missing} lack a held-out result for some task")
    for pt in points:
        pt["heldout_mean_kl"] = sum(pt["heldout"][t]["kl"] for t in tasks) / len(tasks)
    calib = [pt["calibration_kl"] for pt in points]
    corr = {"mean_heldout_kl": spearman(calib, [pt["heldout_mean_kl"] for pt in points])}
    for t in tasks:
        corr[f"{t}_kl"] = spearman(calib, [pt["heldout"][t]["kl"] for pt in points])
        corr[f"{t}_score"] = spearman(calib, [pt["heldout"][t]["score"] for pt in points])
    out = {"schema": "kvmix.front_heldout", "version": 1,
           "command": " ".join(["python", "scripts/python/front_heldout.py"] + sys.argv[1:]),
           "front_points": len(points), "tasks": tasks,
           "eval_samples": {t: points[0]["heldout"][t]["samples"] for t in tasks},
           "spearman_with_calibration_kl": corr, "points": points}
    with open(args.out + ".tmp", "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    os.replace(args.out + ".tmp", args.out)
    head = "| point | bytes/token | calibration KL | held-out KL (mean) | " + " | ".join(
        f"{t} {points[0]['heldout'][t]['metric']}" for t in tasks) + " |"
    print(head)
    print("|" + "---:|" * (4 + len(tasks)))
    for pt in points:
        print(f"| {pt['front_index']} | {pt['bytes_per_token']:.0f} | {pt['calibration_kl']:.5f} | "
              f"{pt['heldout_mean_kl']:.5f} | " +
              " | ".join(f"{pt['heldout'][t]['score']:.4g}" for t in tasks) + " |")
    print()
    for k, v in corr.items():
        print(f"Spearman(calibration KL, {k}) = {'n/a' if v is None else f'{v:.3f}'}")


if __name__ == "__main__":
    main()
