#!/usr/bin/env python3
"""Smoke test of the fashion_mnist example: run it (e.g. with --quick) and
check that it exits 0 and prints a table row, with accuracies in [0, 100],
for every base model and merge method.  Skips (77) without the dataset.

Usage: check_quick.py FASHION_MNIST [ARGS...]
"""
import os
import re
import subprocess
import sys

ROWS = ["model A", "model B", "ensemble (2 models)", "weight averaging", "weight matching",
        "activation alignment", "ZipIt! (activation zip)", "MuDSC align", "MuDSC zip"]
DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"


def main():
    exe, args = sys.argv[1], sys.argv[2:]
    if "--data" not in args and not os.path.isdir(DEFAULT_DIR):
        print("dataset-fashion-mnist is not installed: skipped")
        return 77
    run = subprocess.run([exe] + args, capture_output=True, text=True, check=False)
    sys.stdout.write(run.stdout)
    sys.stderr.write(run.stderr)
    if run.returncode != 0:
        print(f"exit status {run.returncode}")
        return 1
    found = {}
    for line in run.stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0] in ROWS:
            found[cells[0]] = cells
    missing = [r for r in ROWS if r not in found]
    if missing:
        print(f"rows missing from the table: {missing}")
        return 1
    for name, cells in found.items():
        if not re.fullmatch(r"-|0\.\d\d|1\.00", cells[1]):
            print(f"{name}: bad alpha {cells[1]!r}")
            return 1
        values = [float(v) for v in cells[2:]]
        if not all(0.0 <= v <= 100.0 for v in values):
            print(f"{name}: accuracies out of range {values}")
            return 1
    for name in ("MuDSC align", "MuDSC zip"):
        if found[name][1] == "-":
            print(f"{name}: no alpha chosen")
            return 1
    print("all rows present")
    return 0


if __name__ == "__main__":
    sys.exit(main())
