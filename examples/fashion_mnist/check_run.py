#!/usr/bin/env python3
"""Run the fashion_mnist example and check its output: it exits 0 and
prints a table row, with accuracies in [0, 100], for every base model and
merge method; a --quick run says that its accuracies mean nothing.  With
--repeat it runs twice, with --threads 1 and with --threads 2, and requires
the same table and the same held-out alpha curves (only timings may differ):
the job is reproducible and the thread count does not change it.  Every
MuDSC row's alpha must be the best of its printed held-out curve by the
criterion the header names (mean per-task accuracy unless --alpha-by
joint; docs/algorithm.md section 26), and every row with the output
layer's least squares ("LSQ out") must name a ridge of the job's grid.
Skips (77) without the dataset.

Usage: check_run.py [--repeat] FASHION_MNIST [ARGS...]
"""
import difflib
import os
import re
import subprocess
import sys

LSQ_ROWS = ["weight matching + REPAIR, LSQ out", "activation align + REPAIR, LSQ out",
            "ZipIt! + REPAIR, LSQ out", "CCA merge + LSQ out", "MuDSC align + REPAIR, LSQ out",
            "MuDSC zip + REPAIR, LSQ out"]
ROWS = ["model A", "model B", "ensemble (2 models)", "weight averaging", "weight matching",
        "activation alignment", "ZipIt! (activation zip)", "MuDSC align", "MuDSC zip",
        "weight matching + REPAIR", "activation align + REPAIR", "ZipIt! + REPAIR",
        "MuDSC align + REPAIR", "MuDSC zip + REPAIR", "ZipIt! partial, depth 1",
        "ZipIt! partial, depth 2", "CCA merge"] + LSQ_ROWS
MUDSC_ROWS = ["MuDSC align", "MuDSC zip", "MuDSC align + REPAIR", "MuDSC zip + REPAIR",
              "MuDSC align + REPAIR, LSQ out", "MuDSC zip + REPAIR, LSQ out"]
RIDGES = {"1e-06", "1e-05", "0.0001", "0.001", "0.01", "0.1"}
DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"
QUICK_NOTE = "its accuracies mean nothing"


def run(exe, args):
    """stdout of one run, or None (reported) if it failed."""
    proc = subprocess.run([exe] + args, capture_output=True, text=True, check=False)
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    if proc.returncode != 0:
        print(f"{' '.join([exe] + args)}: exit status {proc.returncode}")
        return None
    return proc.stdout


def table_problems(out):
    """What is wrong with the table printed in out (empty if nothing)."""
    found = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0] in ROWS:
            found[cells[0]] = cells
    missing = [r for r in ROWS if r not in found]
    if missing:
        return [f"rows missing from the table: {missing}"]
    problems = []
    for name, cells in found.items():
        if not re.fullmatch(r"-|0\.\d\d|1\.00", cells[1]):
            problems.append(f"{name}: bad alpha {cells[1]!r}")
        values = [float(v) for v in cells[2:]]
        if not all(0.0 <= v <= 100.0 for v in values):
            problems.append(f"{name}: accuracies out of range {values}")
    for name in MUDSC_ROWS:
        if found[name][1] == "-":
            problems.append(f"{name}: no alpha chosen")
    for name in ("CCA merge", "CCA merge + LSQ out"):
        if found[name][1] != "-":
            problems.append(f"{name}: CCA has no alpha, the table says {found[name][1]}")
    return problems + ridge_problems(out)


def ridge_problems(out):
    """Each LSQ row's chosen ridge, printed in the timings (empty if right)."""
    ridges = {}
    for line in out.splitlines():
        m = re.match(r"\s+(.+?)\s+[\d.]+ s\s+held-out .*\(ridge ([^)]+)\)$", line)
        if m:
            ridges[m.group(1)] = m.group(2)
    return [f"{name}: ridge {ridges.get(name)!r} is not one of {sorted(RIDGES)}"
            for name in LSQ_ROWS if ridges.get(name) not in RIDGES]


def alpha_problems(out):
    """Each MuDSC row's alpha against its held-out curve (empty if right)."""
    by = re.search(r"chosen by held-out (mean per-task|joint) accuracy", out)
    if by is None:
        return ["the header does not say what chooses alpha"]
    pick = 0 if by.group(1) == "mean per-task" else 1
    chosen = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0].startswith("MuDSC"):
            chosen[cells[0]] = cells[1]
    problems = []
    curves = 0
    for line in out.splitlines():
        m = re.match(r"\s+(MuDSC [\w +,]+?)\s+(\d\.\d\d:.*?)\s+\(\d+ merges", line)
        if not m:
            continue
        curves += 1
        points = {}
        for item in m.group(2).split():
            alpha, scores = item.split(":")
            points[alpha] = float(scores.split("/")[pick])
        best = max(points.values())
        name = m.group(1)
        if name not in chosen or chosen[name] not in points:
            problems.append(f"{name}: alpha {chosen.get(name)} is not on its curve")
        elif points[chosen[name]] != best:
            problems.append(f"{name}: alpha {chosen[name]} scores {points[chosen[name]]} on "
                            f"the held-out images, the curve's best is {best}")
    if curves != len(MUDSC_ROWS):
        problems.append(f"{curves} alpha curves printed, expected {len(MUDSC_ROWS)}")
    return problems


def results(out):
    """The lines that must not change between runs: the table and the alpha
    curves, without the seconds."""
    keep = []
    for line in out.splitlines():
        if line.startswith("|") or re.match(r"\s+MuDSC [\w +,]+?\s+\d\.\d\d:", line):
            keep.append(re.sub(r"\s+\(\d+ merges, [\d.]+ s\)$", "", line))
    return keep


def main():
    argv = sys.argv[1:]
    repeat = argv[:1] == ["--repeat"]
    exe, args = (argv[1], argv[2:]) if repeat else (argv[0], argv[1:])
    if "--data" not in args and not os.path.isdir(DEFAULT_DIR):
        print("dataset-fashion-mnist is not installed: skipped")
        return 77
    runs = [args + ["--threads", "1"], args + ["--threads", "2"]] if repeat else [args]
    outs = []
    for run_args in runs:
        out = run(exe, run_args)
        if out is None:
            return 1
        problems = table_problems(out) or alpha_problems(out)
        if "--quick" in run_args and QUICK_NOTE not in out:
            problems.append(f"a --quick run does not say that {QUICK_NOTE}")
        if problems:
            print("\n".join(problems))
            return 1
        outs.append(out)
    if repeat and results(outs[0]) != results(outs[1]):
        print("the two runs differ:")
        print("\n".join(difflib.unified_diff(results(outs[0]), results(outs[1]), "--threads 1",
                                             "--threads 2", lineterm="")))
        return 1
    print("all rows present" + (", the same table in both runs" if repeat else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
