"""Search methods measured against the true front of an exhaustive evaluation.

For each seed it runs
  - Optuna's NSGAIISampler at its defaults (population 50), driven as KVTuner's search script
    drives it: one integer per layer group (trial.suggest_int over the group's candidate
    positions), two minimized objectives (here true bytes per token and calibration KL);
  - random search (Optuna's RandomSampler over the same integers);
  - kvmix's own method (`kvmix search --method kvmix`);
  - pagmo's NSGA-II with kvmix's population of 8 (`kvmix search --method kvtuner`), the older
    baseline, named as what it is;
and answers every configuration from exhaustive.json through kvmix itself
(`kvmix search --serve --objective-table`, and `--objective-table` for kvmix's own searches): the
figures are the ones the exhaustive evaluation measured, so every method sees the same objective
and the comparison costs lookups, not model runs.

An evaluation is a distinct configuration asked for: a repeat is answered from what was already
measured and costs nothing, as in kvmix's searches (its journal). The hypervolume after each
evaluation is divided by the true front's (the whole table's), with the search's reference point
(full-precision bytes, 1 nat).

Without --table (live, for a space too large to enumerate, e.g. --cluster-threshold 0), every
method evaluates on the model at an equal budget of --evaluations distinct configurations, and
the curves are fractions of the best front any run found (the union of all runs' points); with
--clustered-table, that table's true front is compared with it too: what clustering costs. Live
evaluations are journaled in --work (Optuna's through one `kvmix search --serve -o WORK/serve`,
kvmix's in their own run folders), so the same command run again resumes where it stopped.

Writes OUT (JSON: settings, every curve, evaluations to reach each fraction) and, with --plot,
a PNG through gnuplot (median and range over seeds).

    python scripts/python/search_compare.py --kvmix build/kvmix \
        --sensitivity results/tune-builtin/sensitivity.json \
        --table results/search/exhaustive.json --seeds 0,1,2,3,4 \
        --out results/search/compare.json --plot results/search/compare.png
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile

FRACTIONS = (0.95, 0.99)


def hypervolume(points, ref):
    """Area dominated by (cost, error) points inside the box below ref: search/pareto.cpp's."""
    inside = sorted((c, e) for c, e in points if c < ref[0] and e < ref[1])
    front = []
    for c, e in inside:
        if not front or e < front[-1][1]:
            if front and front[-1][0] == c:
                continue
            front.append((c, e))
    area = 0.0
    for i, (c, e) in enumerate(front):
        nxt = front[i + 1][0] if i + 1 < len(front) else ref[0]
        area += (nxt - c) * (ref[1] - e)
    return area


def finite_number(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{what}: not a finite number: {value!r}")
    return float(value)


class ObjectiveClient:
    """`kvmix search --serve`: one JSON line per configuration, one per answer."""

    def __init__(self, command):
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1)
        self.space = self._read("the first line")
        if self.space.get("protocol") != "kvmix.objective" or self.space.get("version") != 1:
            raise ValueError(f"not a kvmix objective server: {self.space!r}")
        self.sizes = []
        for k, cluster in enumerate(self.space["clusters"]):
            cand = cluster["candidates"]
            if not isinstance(cand, list) or not cand:
                raise ValueError(f"cluster {k}: no candidates")
            self.sizes.append(len(cand))
        ref = self.space["hypervolume_reference"]
        self.reference = (finite_number(ref[0], "reference bytes"),
                          finite_number(ref[1], "reference KL"))

    def _read(self, what):
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"kvmix ended before {what} (status {self.proc.wait()})")
        return json.loads(line)

    def ask(self, choice):
        self.proc.stdin.write(json.dumps({"choice": list(choice)}) + "\n")
        self.proc.stdin.flush()
        reply = self._read("an answer")
        if "error" in reply:
            raise RuntimeError(f"kvmix refused {choice}: {reply['error']}")
        if reply.get("choice") != list(choice):
            raise ValueError(f"answer for {reply.get('choice')!r}, asked {choice!r}")
        return (finite_number(reply["bytes_per_token"], "bytes_per_token"),
                finite_number(reply["kl"], "kl"))

    def close(self):
        self.proc.stdin.close()
        status = self.proc.wait()
        if status != 0:
            raise RuntimeError(f"kvmix --serve exited {status}")


def optuna_curve(client, sampler, max_evaluations, max_trials):
    """Hypervolume after each distinct configuration an Optuna sampler asks for."""
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    seen, points, curve = set(), [], []
    trials = 0
    while len(seen) < max_evaluations and trials < max_trials:
        trial = study.ask()
        choice = tuple(trial.suggest_int(f"group_{k}", 0, n - 1) for k, n in enumerate(client.sizes))
        value = client.ask(choice)
        study.tell(trial, list(value))
        trials += 1
        if choice not in seen:
            seen.add(choice)
            points.append(value)
            curve.append(hypervolume(points, client.reference))
    return curve, trials, points


def kvmix_curve(args, method, seed, generations, work, proposals=1):
    """hypervolume_curve and points of `kvmix search --method METHOD` (front.json), answered from
    --table or, live, by the model."""
    out = os.path.join(work, f"{method}-{seed}-{proposals}")
    objective = ["--objective-table", args.table] if args.table else []
    command = [args.kvmix, "search", "--model", args.model, "--sensitivity", args.sensitivity,
               "--cluster-threshold", str(args.cluster_threshold), *objective,
               "--method", method, "--seed", str(seed), "--proposals", str(proposals),
               "--generations", str(generations), "--threads", "1", "--out", out, "--quiet"]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(out, "front.json"), encoding="utf-8") as f:
        front = json.load(f)
    points = [(finite_number(q["bytes_per_token"], "bytes_per_token"), finite_number(q["kl"], "kl"))
              for q in front["points"]]
    return [finite_number(v, "hypervolume_curve") for v in front["hypervolume_curve"]], points


def evaluations_to(curve, target):
    """1-based count of evaluations after which the curve first reaches target (None: never)."""
    for i, v in enumerate(curve):
        if v >= target:
            return i + 1
    return None


def summary(values):
    reached = [v for v in values if v is not None]
    if len(reached) < len(values):
        return {"median": None if len(reached) <= len(values) // 2 else
                statistics.median(sorted(v if v is not None else math.inf for v in values)),
                "min": min(reached) if reached else None, "max": None,
                "not_reached": len(values) - len(reached)}
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "not_reached": 0}


def plot(path, result):
    """Median and range of the fraction of the true hypervolume, per method, by gnuplot."""
    dat = path + ".dat"
    blocks = []
    for name, m in result["methods"].items():
        n = max(len(c) for c in m["fractions"])
        rows = []
        for i in range(n):
            col = [c[min(i, len(c) - 1)] for c in m["fractions"]]
            rows.append(f"{i + 1} {statistics.median(col):.6f} {min(col):.6f} {max(col):.6f}")
        blocks.append(f"# {name}\n" + "\n".join(rows))
    with open(dat, "w", encoding="utf-8") as f:
        f.write("\n\n\n".join(blocks) + "\n")
    colors = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a"]
    bands, lines = [], []
    for i, name in enumerate(result["methods"]):
        c = colors[i % len(colors)]
        bands.append(f"'{os.path.basename(dat)}' index {i} using 1:3:4 with filledcurves "
                     f"fc rgb '{c}' fs transparent solid 0.15 notitle")
        # Dashes tell apart curves that coincide (NSGA-II's first generation is random sampling).
        lines.append(f"'{os.path.basename(dat)}' index {i} using 1:2 with lines lw 2 dt {i + 1} "
                     f"lc rgb '{c}' title '{name} (median, range over {len(result['seeds'])} seeds)'")
    plots = bands + lines
    ylabel = ("hypervolume / best front found (all runs)" if "live" in result
              else "hypervolume / true front hypervolume")
    gp = path + ".gp"
    with open(gp, "w", encoding="utf-8") as f:
        f.write(f"""set terminal pngcairo size 900,560
set output '{os.path.basename(path)}'
set logscale x
set xlabel 'full evaluations (distinct configurations)'
set ylabel '{ylabel}'
set yrange [0.5:1.005]
set key bottom right
set grid
set arrow from graph 0, first 0.99 to graph 1, first 0.99 nohead dt 2
set arrow from graph 0, first 0.95 to graph 1, first 0.95 nohead dt 3
plot {", ".join(plots)}
""")
    subprocess.run(["gnuplot", os.path.basename(gp)], check=True, cwd=os.path.dirname(os.path.abspath(path)))


def merge(args):
    parts = []
    for path in args.merge:
        with open(path, encoding="utf-8") as f:
            part = json.load(f)
        if part.get("schema") != "kvmix.search_compare" or "live" not in part:
            sys.exit(f"{path}: not a live search comparison")
        parts.append(part)
    budgets = {part["live"]["evaluations"] for part in parts}
    references = {tuple(part["best_found"]["reference"]) for part in parts}
    if len(budgets) != 1 or len(references) != 1:
        sys.exit("--merge: the comparisons differ in --evaluations or hypervolume reference")
    reference = references.pop()
    runs = {}
    for part in parts:
        for method, m in part["methods"].items():
            if method in runs:
                sys.exit(f"--merge: method {method} appears twice")
            runs[method] = (m["hypervolume_curves"], m["runs"], [[tuple(q) for q in pts] for pts in m["points"]])
    union = [q for curves, notes, found in runs.values() for pts in found for q in pts]
    true_hv = hypervolume(union, reference)
    result = {"schema": "kvmix.search_compare", "version": 1,
              "command": " ".join(["python", "scripts/python/search_compare.py"] + sys.argv[1:]),
              "merged": [part["command"] for part in parts],
              "seeds": sorted({s for part in parts for s in part["seeds"]}),
              "fractions_reported": list(FRACTIONS), "methods": {},
              "live": parts[0]["live"],
              "best_found": {"hypervolume": true_hv, "reference": list(reference)}}
    if args.clustered_table:
        c_hv = finite_number(load_table(args.clustered_table)["hypervolume"], "hypervolume")
        result["clustered"] = {"table": args.clustered_table, "hypervolume": c_hv,
                               "fraction_of_best_found": c_hv / true_hv}
    fill_methods(result, runs, true_hv, True)
    write_result(args, result)


def load_table(path):
    with open(path, encoding="utf-8") as f:
        table = json.load(f)
    if table.get("schema") != "kvmix.exhaustive" or not table.get("complete"):
        sys.exit(f"{path}: not a complete exhaustive evaluation")
    return table


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kvmix", required=True)
    p.add_argument("--model", default="builtin")
    p.add_argument("--sensitivity", required=True)
    p.add_argument("--table", help="exhaustive.json of `kvmix search --exhaustive` (without it: live)")
    p.add_argument("--cluster-threshold", type=float, default=0.3,
                   help="as the exhaustive evaluation was run (kvmix checks the table against it)")
    p.add_argument("--seeds", default="0,1,2,3,4")
    p.add_argument("--evaluations", type=int, default=200,
                   help="live: distinct configurations each run may spend")
    p.add_argument("--work", help="live: folder of the runs' journals (the same command resumes)")
    p.add_argument("--clustered-table", help="live: exhaustive.json of the clustered space, whose true "
                   "front is compared with the best front found")
    p.add_argument("--optuna-evaluations", type=int, default=0,
                   help="distinct configurations an Optuna run may spend (0: the whole space)")
    p.add_argument("--optuna-trials", type=int, default=5000, help="trials an Optuna run may ask")
    p.add_argument("--kvmix-generations", type=int, default=30,
                   help="kvmix's method spends 8 x (1 + this) evaluations (live: from --evaluations)")
    p.add_argument("--pagmo-generations", type=int, default=124,
                   help="pagmo's NSGA-II: 8 x (1 + this) fitness calls")
    p.add_argument("--methods", default=None,
                   help="default optuna-nsga2,random,kvmix,pagmo-nsga2 (live: optuna-nsga2,random,kvmix); "
                        "also kvmix-proposals-B: kvmix's method proposing B configurations per round "
                        "(`--proposals B`, what the ranks of an MPI job evaluate together)")
    p.add_argument("--out", required=True)
    p.add_argument("--plot")
    p.add_argument("--replot", action="store_true", help="only redraw --plot from an existing --out")
    p.add_argument("--merge", nargs="+", metavar="LIVE_OUT",
                   help="combine live comparisons run separately (say one method each, at once) into "
                        "--out, their curves renormalized by the best front of all of them")
    args = p.parse_args()
    if args.replot:
        with open(args.out, encoding="utf-8") as f:
            plot(args.plot, json.load(f))
        return
    if args.merge:
        merge(args)
        return
    live = args.table is None
    if live and not args.work:
        sys.exit("without --table (live evaluations), --work names the folder of their journals")
    if live and args.evaluations < 8:
        sys.exit("--evaluations: at least 8 (kvmix's first population)")
    seeds = [int(s) for s in args.seeds.split(",")]
    methods = (args.methods or ("optuna-nsga2,random,kvmix" if live else
                                "optuna-nsga2,random,kvmix,pagmo-nsga2")).split(",")

    result = {"schema": "kvmix.search_compare", "version": 1,
              "command": " ".join(["python", "scripts/python/search_compare.py"] + sys.argv[1:]),
              "seeds": seeds, "fractions_reported": list(FRACTIONS), "methods": {}}
    serve = [args.kvmix, "search", "--model", args.model, "--sensitivity", args.sensitivity,
             "--cluster-threshold", str(args.cluster_threshold), "--serve", "--threads", "1", "--quiet"]
    if live:
        max_evals = args.evaluations
        kvmix_generations = args.evaluations // 8 - 1
        os.makedirs(args.work, exist_ok=True)
        serve += ["--out", os.path.join(args.work, "serve")]
        result["live"] = {"evaluations": args.evaluations}
    else:
        table = load_table(args.table)
        true_hv = finite_number(table["hypervolume"], "hypervolume")
        space_size = int(table["space_size"])
        max_evals = args.optuna_evaluations or space_size
        kvmix_generations = args.kvmix_generations
        serve += ["--objective-table", args.table]
        result["table"] = {"space_size": space_size, "hypervolume": true_hv,
                           "front_points": len(table["front"])}

    with tempfile.TemporaryDirectory() as temp:
        work = args.work if live else temp
        runs = {}  # method -> [(curve, points)], curves in hypervolume
        reference = None
        for method in methods:
            curves, notes, found = [], [], []
            for seed in seeds:
                if method in ("optuna-nsga2", "random"):
                    import optuna
                    sampler = (optuna.samplers.NSGAIISampler(seed=seed) if method == "optuna-nsga2"
                               else optuna.samplers.RandomSampler(seed=seed))
                    client = ObjectiveClient(serve)
                    reference = client.reference
                    curve, trials, points = optuna_curve(client, sampler, max_evals, args.optuna_trials)
                    client.close()
                    notes.append({"seed": seed, "trials": trials, "evaluations": len(curve)})
                elif method == "kvmix":
                    curve, points = kvmix_curve(args, "kvmix", seed, kvmix_generations, work)
                elif method.startswith("kvmix-proposals-") and method[len("kvmix-proposals-"):].isdigit():
                    curve, points = kvmix_curve(args, "kvmix", seed, kvmix_generations, work,
                                                int(method[len("kvmix-proposals-"):]))
                elif method == "pagmo-nsga2":
                    curve, points = kvmix_curve(args, "kvtuner", seed, args.pagmo_generations, work)
                else:
                    sys.exit(f"unknown method {method}")
                if live:
                    curve = curve[:max_evals]
                curves.append(curve)
                found.append(points)
                print(f"{method} seed {seed}: {len(curve)} evaluations, final hypervolume {curve[-1]:.4f}",
                      file=sys.stderr)
            runs[method] = (curves, notes, found)

    if live:
        # The best front known: every point any run found (kvmix's runs contribute their fronts,
        # which hold every point of theirs that could be on the union's).
        if reference is None:
            with open(os.path.join(work, f"kvmix-{seeds[0]}-1", "front.json"), encoding="utf-8") as f:
                ref = json.load(f)["hypervolume_reference"]
            reference = (finite_number(ref[0], "reference"), finite_number(ref[1], "reference"))
        union = [q for curves, notes, found in runs.values() for pts in found for q in pts]
        true_hv = hypervolume(union, reference)
        result["best_found"] = {"hypervolume": true_hv, "reference": list(reference)}
        if args.clustered_table:
            clustered = load_table(args.clustered_table)
            c_hv = finite_number(clustered["hypervolume"], "hypervolume")
            result["clustered"] = {"table": args.clustered_table, "hypervolume": c_hv,
                                   "fraction_of_best_found": c_hv / true_hv}
    fill_methods(result, runs, true_hv, live)
    write_result(args, result)


def fill_methods(result, runs, true_hv, live):
    """Per method: curves as fractions of true_hv and evaluations to each fraction; live runs also
    keep their raw curves and points, which --merge needs to renormalize."""
    for method, (curves, notes, found) in runs.items():
        fractions = [[v / true_hv for v in c] for c in curves]
        result["methods"][method] = {
            "runs": notes,
            "fractions": [[round(v, 6) for v in c] for c in fractions],
            "evaluations_to": {str(t): [evaluations_to(c, t) for c in fractions] for t in FRACTIONS},
            "evaluations_to_summary": {str(t): summary([evaluations_to(c, t) for c in fractions])
                                       for t in FRACTIONS},
        }
        if live:
            result["methods"][method]["hypervolume_curves"] = curves
            result["methods"][method]["points"] = found


def write_result(args, result):
    with open(args.out + ".tmp", "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    os.replace(args.out + ".tmp", args.out)
    if args.plot:
        plot(args.plot, result)


if __name__ == "__main__":
    main()
