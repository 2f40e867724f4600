"""Where a live search comparison stands while its runs are still going.

Reads the journals of the runs (a kvmix search's DIR/journal.jsonl, or the served journal
WORK/serve/external.jsonl of an Optuna run: both list each distinct configuration once, in the
order it was evaluated), cuts every run to the evaluations all of them have, and prints each run's
hypervolume after 8, 10, 20, 50 and that many evaluations as a fraction of the best front of all
of them; with --clustered-table, the clustered space's true front against that best front (a
lower bound on what clustering costs). Reading a journal while it grows is safe: a line still
being written is left out.

    python scripts/python/search_snapshot.py \
        kvmix=results/search/unclustered/kvmix-0-1/journal.jsonl \
        optuna-nsga2=results/search/unclustered/optuna-nsga2/serve/external.jsonl \
        random=results/search/unclustered/random/serve/external.jsonl \
        --clustered-table results/search/exhaustive-default/exhaustive.json
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from search_compare import finite_number, hypervolume  # noqa: E402


def journal_points(path):
    points = []
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    header = json.loads(lines[0])
    if header.get("journal") != "kvmix.search":
        sys.exit(f"{path}: not a kvmix search journal")
    for line in lines[1:-1]:  # the last piece is empty or a line still being written
        if line.strip():
            d = json.loads(line)
            points.append((finite_number(d["bytes_per_token"], "bytes_per_token"),
                           finite_number(d["kl"], "kl")))
    return points


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", metavar="NAME=JOURNAL")
    p.add_argument("--reference", default="2048,1", help="hypervolume reference: bytes,kl")
    p.add_argument("--clustered-table")
    args = p.parse_args()
    reference = tuple(float(x) for x in args.reference.split(","))
    runs = {}
    for spec in args.runs:
        name, _, path = spec.partition("=")
        if not path:
            sys.exit(f"{spec!r}: not NAME=JOURNAL")
        runs[name] = journal_points(path)
    n = min(len(v) for v in runs.values())
    best = hypervolume([q for v in runs.values() for q in v[:n]], reference)
    print(f"first {n} evaluations of each run; best front of all: hypervolume {best:.4f}")
    if args.clustered_table:
        with open(args.clustered_table, encoding="utf-8") as f:
            clustered = finite_number(json.load(f)["hypervolume"], "hypervolume")
        print(f"clustered true front: {clustered:.4f}, {clustered / best:.5f} of it")
    marks = [k for k in (8, 10, 20, 50) if k < n] + [n]
    print("| run | " + " | ".join(f"after {k}" for k in marks) + " |")
    print("|---|" + "---:|" * len(marks))
    for name, v in runs.items():
        print(f"| {name} | " + " | ".join(f"{hypervolume(v[:k], reference) / best:.4f}" for k in marks) + " |")


if __name__ == "__main__":
    main()
