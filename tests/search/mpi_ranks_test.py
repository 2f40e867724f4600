#!/usr/bin/env python3
"""kvmix on the ranks of an MPI job (lib/process/team.h, search/team_work.h) against one process.

Run by ctest when kvmix is built with MPI:
    python3 mpi_ranks_test.py --kvmix KVMIX --mpirun MPIRUN --work FOLDER

Checks, on the built-in model with small calibration and evaluation sets, each at 1 thread per rank:
  - profile: the sensitivity file of 2 and 3 ranks is byte for byte the one process's;
  - search: the front of 2 ranks is the one process's (points, hypervolume curve; the journal ids
    the points carry follow the order evaluations finished, so they are left out), and with
    --proposals 3 the front of 2 ranks is the one process's at --proposals 3;
  - a search whose rank 1 is killed (SIGKILL) mid-search: mpirun fails, every evaluation journaled
    before the kill is still in the journal, unchanged, and the same command run again finishes
    with the one process's front;
  - eval, policies: the output files of 2 ranks are byte for byte the one process's;
  - a command that does not share its work (export) refuses to start on 2 ranks.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time


def run(cmd, ok=True, **kw):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if ok and p.returncode != 0:
        sys.exit(f"FAILED ({p.returncode}): {' '.join(cmd)}\n{p.stdout[-4000:]}")
    return p


def front_points(path):
    f = json.load(open(path))
    points = [{k: v for k, v in p.items() if k != "trial"} for p in f["points"]]
    return points, f["hypervolume_curve"], f["evaluations"]


def journal_trials(path):
    out = {}
    with open(path) as f:
        for line in f.readlines()[1:]:
            line = line.strip()
            if not line:
                continue
            try:
                t = json.loads(line)
            except json.JSONDecodeError:
                continue  # a torn last line: the reader cuts it off too
            out[tuple(t["layer_pairs"])] = (t["bytes_per_token"], t["kl"])
    return out


def rank_pids(kvmix, marker, rank):
    """Processes of this test's kvmix (their command line holds `marker`) with the given MPI rank."""
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
            env = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
        except OSError:
            continue
        if cmdline and cmdline[0].decode(errors="replace") == kvmix and marker.encode() in b" ".join(cmdline) \
                and f"OMPI_COMM_WORLD_RANK={rank}".encode() in env:
            pids.append(int(pid))
    return pids


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kvmix", required=True)
    ap.add_argument("--mpirun", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    kvmix = os.path.abspath(a.kvmix)
    work = os.path.abspath(a.work)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    os.environ.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
                      OMPI_MCA_rmaps_base_oversubscribe="1")

    def mpi(n):
        return [a.mpirun, "-np", str(n), "--oversubscribe"]

    K = [kvmix]
    one = ["--threads", "1"]
    w = lambda *p: os.path.join(work, *p)

    # --- profile: 1, 2 and 3 ranks
    prof = ["profile", *one, "-p", "KV2,K4V2,KV4,K8V4,KV8", "--calib-tasks", "recall", "--calib-samples", "2"]
    for n, name in [(1, "p1"), (2, "p2"), (3, "p3")]:
        cmd = (K if n == 1 else mpi(n) + K) + prof + ["-o", w(name, "s.json")]
        run(cmd)
    base = open(w("p1", "s.json"), "rb").read()
    for name in ("p2", "p3"):
        assert open(w(name, "s.json"), "rb").read() == base, f"profile on {name[1]} ranks differs from one process"
    print("profile: 2 and 3 ranks write the one process's sensitivity.json byte for byte")

    # --- search
    sens = w("p1", "s.json")
    # Every layer its own decision (threshold 0): room for the 24 evaluations of 8 x (1 + 2).
    search = ["search", *one, "--sensitivity", sens, "--cluster-threshold", "0", "--generations", "2"]
    run(K + search + ["-o", w("s1")])
    run(mpi(2) + K + search + ["-o", w("s2")])
    ref = front_points(w("s1", "front.json"))
    assert front_points(w("s2", "front.json")) == ref, "search on 2 ranks: another front"
    run(K + search + ["--proposals", "3", "-o", w("b1")])
    run(mpi(2) + K + search + ["--proposals", "3", "-o", w("b2")])
    assert front_points(w("b2", "front.json")) == front_points(w("b1", "front.json")), \
        "search --proposals 3 on 2 ranks: another front"
    print(f"search: 2 ranks give the one process's front ({ref[2]} evaluations, {len(ref[0])} points); "
          "--proposals 3 on 2 ranks that of --proposals 3 in one process")

    # --- a rank killed mid-search, then the same command again
    marker = w("killed")
    cmd = mpi(2) + K + search + ["-o", marker]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    journal = os.path.join(marker, "journal.jsonl")
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if os.path.exists(journal) and len(journal_trials(journal)) >= 9:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the search ended before it could be killed:\n" + proc.communicate()[0][-3000:]
    victims = rank_pids(kvmix, marker, 1)
    assert victims, "rank 1 not found"
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    out = proc.communicate(timeout=120)[0]
    assert proc.returncode != 0, "mpirun exited 0 after a rank was killed"
    before = journal_trials(journal)
    total = ref[2]
    assert 9 <= len(before) < total, f"{len(before)} trials journaled at the kill, of {total}"
    run(cmd)
    after = journal_trials(journal)
    for lp, v in before.items():
        assert after.get(lp) == v, f"trial {lp} journaled before the kill changed or vanished"
    assert front_points(os.path.join(marker, "front.json")) == ref, "the resumed search found another front"
    print(f"kill: rank 1 killed after {len(before)} of {total} evaluations; mpirun exit {proc.returncode}; "
          "the rerun kept them and finished with the one process's front")

    # --- eval and policies
    ev = ["eval", *one, "-t", "recall,text", "-n", "2", "-p", "KV2"]
    run(K + ev + ["-o", w("e1.json"), "--samples-out", w("e1.samples.json")])
    run(mpi(2) + K + ev + ["-o", w("e2.json"), "--samples-out", w("e2.samples.json")])
    for suffix in (".json", ".samples.json"):
        assert open(w("e1" + suffix), "rb").read() == open(w("e2" + suffix), "rb").read(), f"eval{suffix} differs"
    pol = ["policies", *one, "-t", "recall", "-n", "2", "-p", "h2o,streaming", "-b", "0.5", "--kivi", "KV2"]
    run(K + pol + ["-o", w("pol1")])
    run(mpi(2) + K + pol + ["-o", w("pol2")])
    r1 = json.load(open(w("pol1.json")))["results"]
    r2 = json.load(open(w("pol2.json")))["results"]
    assert r1 == r2, "policies on 2 ranks: other results"
    print("eval and policies: 2 ranks give the one process's results")

    # --- a one-process command refuses several ranks
    p = run(mpi(2) + K + ["formats"], ok=False)
    assert p.returncode != 0 and "runs as one process" in p.stdout, p.stdout[-2000:]
    print("formats under mpirun -np 2: refused")


if __name__ == "__main__":
    main()
