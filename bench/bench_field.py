#!/usr/bin/env python3
"""The library's share of a ModelGiF distance run (issue 16): on the models
of examples/python/modelgif.py's testbed 1 (12 models: MLPs 784-256-10 and
784-128-10, CNNs of width 8; their weights do not change the cost, so they
are not trained here), mudsc.torch.model_distance over P probe inputs of
Fashion-MNIST with K steps, timed by its `timings`: the library's calls
(Field.begin/update/distances, the binding's conversions included) against
the whole run (the host's path points, forwards and backward passes, and
the library).  CPU seconds of this process (one torch and one BLAS thread),
so that the figure does not move with the machine's load; wall seconds and
`uptime` are printed too.  Medians of --reps runs; prints JSON.

Usage: MUDSC_LIBRARY=build/lib/libmudsc.so.0 bench_field.py [--probes P]
       [--steps K] [--reps R] [--models N]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "bindings", "python"))
sys.path.insert(0, os.path.join(HERE, "..", "examples", "python"))

import torch  # noqa: E402

import data  # noqa: E402
import modelgif  # noqa: E402
import mudsc.torch as mt  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--probes", type=int, default=100)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--models", type=int, default=12)
    ap.add_argument("--data", default=data.DEFAULT_DIR)
    args = ap.parse_args()
    torch.set_num_threads(1)
    makers = [modelgif.mlp] * 4 + [lambda: modelgif.mlp(128)] * 3 + [modelgif.cnn] * 5
    models = [modelgif.new(makers[i % len(makers)], i) for i in range(args.models)]
    for m in models:
        m.eval()
    xte, yte = data.load(args.data, "test")
    px, py = torch.from_numpy(xte[:args.probes]), torch.from_numpy(yte[:args.probes])
    batches = [(px[s:s + 50], py[s:s + 50]) for s in range(0, len(px), 50)]
    runs = []
    for _ in range(args.reps):
        t = {}
        mt.model_distance(models, batches, steps=args.steps, target="label", timings=t)
        runs.append(t)
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    share_cpu = statistics.median(r["library_cpu"] / r["total_cpu"] for r in runs)
    share_wall = statistics.median(r["library"] / r["total"] for r in runs)
    print(json.dumps({
        "models": args.models, "probes": args.probes, "steps": args.steps, "reps": args.reps,
        "library_cpu_s": round(med["library_cpu"], 3), "total_cpu_s": round(med["total_cpu"], 3),
        "library_share_cpu": round(share_cpu, 4),
        "library_wall_s": round(med["library"], 3), "total_wall_s": round(med["total"], 3),
        "library_share_wall": round(share_wall, 4),
        "target": "library share < 0.10",
        "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
    }, indent=1))


if __name__ == "__main__":
    main()
