"""What every cross-check test under tests/python/ shares.

CMake registers each tests/python/*_test.py as one ctest, run in the pinned environment
(.cache/venv-cpu) as `python FILE --kvmix KVMIX --work FOLDER`, with PYTHONPATH holding the
repository's python/ folder. A check exits 0 when it passes, 77 when it cannot run here (ctest
reports it skipped, never passed), anything else when it fails.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

SKIP = 77
SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def parse_args(description):
    """--kvmix and --work; the work folder is emptied so that no earlier run's files are read."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--kvmix", required=True, help="the kvmix binary")
    parser.add_argument("--work", required=True, help="a folder this check may empty and fill")
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    return args


def skip(reason):
    print(f"SKIPPED: {reason}")
    sys.exit(SKIP)


def fail(reason):
    print(f"FAILED: {reason}")
    sys.exit(1)


def run_kvmix(kvmix, *args):
    """Runs kvmix with an argument list (never a shell); its output is shown on failure."""
    result = subprocess.run([kvmix, *map(str, args)], capture_output=True, text=True)
    if result.returncode != 0:
        fail(f"kvmix {' '.join(map(str, args))} exited {result.returncode}:\n"
             f"{result.stdout}\n{result.stderr}")
    return result.stdout


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)
