"""Optuna's NSGAIISampler drives kvmix's external-optimizer interface (`kvmix search --serve`).

On the built-in model with a small profile (3 pairs, one calibration task of 2 samples) and a
cluster threshold that leaves a space of a few configurations:
  - a few Optuna trials (ask, send the choice, tell the two objectives) are answered; each
    answer's bytes equal the sum of the profile's per-layer cells (read here from
    sensitivity.json, not from kvmix's answer), and its KL equals what `kvmix search --exhaustive`
    measured for the same configuration in another process (same binary, same thread count, same
    data: a relative 1e-9, rounding of the JSON round trip only);
  - a repeated choice is answered from the journal ("evaluated": false), also by a second session
    of the same run, and the table-backed server (--objective-table) gives the same figures;
  - malformed requests (not JSON, unknown field, a position out of range, a non-integer, a wrong
    count) get an error line naming the line and the field, and the server goes on;
  - a session with another option refuses the run folder's journal.
"""
import json
import math
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_util  # noqa: E402

try:
    import optuna
except ImportError:
    check_util.skip("optuna is not installed in this Python")

# The JSON round trip of a double is exact to 17 digits; anything above this is a real difference.
REL_TOL = 1e-9


def same(a, b):
    return abs(a - b) <= REL_TOL * max(abs(a), abs(b), 1e-300)


class Server:
    def __init__(self, command):
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1)
        self.space = self.read()

    def read(self):
        line = self.proc.stdout.readline()
        if not line:
            check_util.fail(f"the server ended early: {self.proc.stderr.read()}")
        return json.loads(line)

    def send(self, text):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        return self.read()

    def close(self):
        self.proc.stdin.close()
        status = self.proc.wait(timeout=600)
        if status != 0:
            check_util.fail(f"the server exited {status}: {self.proc.stderr.read()}")


def main():
    args = check_util.parse_args(__doc__)
    work = args.work
    sens = os.path.join(work, "sensitivity.json")
    check_util.run_kvmix(args.kvmix, "profile", "--model", "builtin", "--pairs", "KV2,K4V2,KV4",
                         "--calib-tasks", "arith", "--calib-samples", "2", "--threads", "1",
                         "--out", sens, "--quiet")
    base = [args.kvmix, "search", "--model", "builtin", "--sensitivity", sens,
            "--cluster-threshold", "3", "--threads", "1", "--quiet"]
    check_util.run_kvmix(*base, "--exhaustive", "--out", os.path.join(work, "exhaustive"))
    table = check_util.read_json(os.path.join(work, "exhaustive", "exhaustive.json"))
    measured = {tuple(c["choice"]): c["kl"] for c in table["configurations"]}
    if not table["complete"] or len(measured) != table["space_size"]:
        check_util.fail("the exhaustive table is not complete")

    profile = check_util.read_json(sens)
    pair_index = {p["name"]: i for i, p in enumerate(profile["pairs"])}
    cell_bytes = [[c["bytes_per_token"] for c in layer["cells"]] for layer in profile["layers"]]

    serve_dir = os.path.join(work, "serve")
    server = Server(base + ["--serve", "--out", serve_dir])
    space = server.space
    if space.get("protocol") != "kvmix.objective" or space.get("version") != 1:
        check_util.fail(f"unexpected first line {space}")
    clusters = space["clusters"]
    if space["space_size"] != table["space_size"]:
        check_util.fail(f"space of {space['space_size']} configurations, the table has {table['space_size']}")

    def expected_bytes(choice):
        total = 0.0
        for k, pos in enumerate(choice):
            pair = pair_index[clusters[k]["candidates"][pos]]
            total += sum(cell_bytes[layer][pair] for layer in clusters[k]["layers"])
        return total

    # A few trials of KVTuner's sampler, asked and told through the interface.
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(directions=["minimize", "minimize"],
                                sampler=optuna.samplers.NSGAIISampler(seed=0))
    answers = {}
    for n in range(6):
        trial = study.ask()
        choice = [trial.suggest_int(f"group_{k}", 0, len(c["candidates"]) - 1)
                  for k, c in enumerate(clusters)]
        reply = server.send(json.dumps({"choice": choice, "id": n}))
        if "error" in reply or reply.get("id") != n or reply.get("choice") != choice:
            check_util.fail(f"trial {n}: {reply}")
        if not same(reply["bytes_per_token"], expected_bytes(choice)):
            check_util.fail(f"trial {n}: {reply['bytes_per_token']} bytes, the profile says {expected_bytes(choice)}")
        if not (math.isfinite(reply["kl"]) and reply["kl"] >= 0 and same(reply["kl"], measured[tuple(choice)])):
            check_util.fail(f"trial {n}: KL {reply['kl']}, the exhaustive evaluation measured {measured[tuple(choice)]}")
        if tuple(choice) in answers and reply["evaluated"]:
            check_util.fail(f"trial {n}: a repeated configuration was evaluated again")
        answers[tuple(choice)] = reply["kl"]
        study.tell(trial, [reply["bytes_per_token"], reply["kl"]])
    if len(study.trials) != 6 or any(t.state != optuna.trial.TrialState.COMPLETE for t in study.trials):
        check_util.fail("Optuna's trials did not all complete")

    # Malformed requests: an error line each, and the server still answers afterwards.
    n_clusters = len(clusters)
    bad = {
        "not json": "not JSON",
        json.dumps({"choice": [0] * n_clusters, "extra": 1}): "unknown field",
        json.dumps({"choice": [len(clusters[0]["candidates"])] + [0] * (n_clusters - 1)}): "choice[0]",
        json.dumps({"choice": [0.5] + [0] * (n_clusters - 1)}): "choice[0]",
        json.dumps({"choice": [0] * (n_clusters + 1)}): "one candidate position per cluster",
        json.dumps({"id": 3}): "'choice' is required",
    }
    for text, needle in bad.items():
        reply = server.send(text)
        if "error" not in reply or needle not in reply["error"] or "<stdin>:" not in reply["error"]:
            check_util.fail(f"request {text!r}: expected an error naming {needle!r}, got {reply}")
    first = next(iter(answers))
    reply = server.send(json.dumps({"choice": list(first)}))
    if "error" in reply or reply["evaluated"] or not same(reply["kl"], answers[first]):
        check_util.fail(f"after the bad requests: {reply}")
    server.close()

    # A second session of the same run answers from the journal.
    server = Server(base + ["--serve", "--out", serve_dir])
    reply = server.send(json.dumps({"choice": list(first)}))
    if reply.get("evaluated") is not False or not same(reply["kl"], answers[first]):
        check_util.fail(f"second session: {reply}")
    server.close()

    # The table-backed server gives the exhaustive evaluation's figures.
    server = Server(base + ["--serve", "--objective-table",
                            os.path.join(work, "exhaustive", "exhaustive.json")])
    for choice, kl in answers.items():
        reply = server.send(json.dumps({"choice": list(choice)}))
        if "error" in reply or not same(reply["kl"], kl):
            check_util.fail(f"table server, {choice}: {reply}")
    server.close()

    # Another option, same folder: the journal belongs to another run.
    result = subprocess.run(base + ["--serve", "--metric", "kl", "--out", serve_dir],
                            input="", capture_output=True, text=True)
    if result.returncode == 0 or "another run" not in result.stderr:
        check_util.fail(f"a changed option reused the journal: {result.returncode} {result.stderr}")
    print(f"passed: {len(answers)} distinct configurations from 6 Optuna trials, "
          f"{table['space_size']} in the space")


if __name__ == "__main__":
    main()
