#!/usr/bin/env python3
"""Whole MuDSC merge of a ResNet-20 x4-shaped pair (widths 64/128/256, N = 2,
activation similarities given, alpha = 0.5): libmudsc against the NumPy oracle
(tests/oracle/mudsc_ref.py) on the same inputs.  Checks that both give the same
correspondences and merged tensors, prints seconds, sweeps and the speed-up as
JSON.  Usage: MUDSC_LIBRARY=build/lib/libmudsc.so bench_mudsc_merge.py [--width-mult K]
"""
import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "python"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "oracle"))
sys.path.insert(0, os.path.join(HERE, "..", "bindings", "python"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import mudsc_ref as ref  # noqa: E402
import nets  # noqa: E402
from mudsc import Graph, Matcher, Model  # noqa: E402
from test_graph_builders import permute_state_dict  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--width-mult", type=int, default=4)
    ap.add_argument("--alpha", type=float, default=0.5)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    k = args.width_mult
    torch.manual_seed(0)
    net = nets.ResNet([3, 3, 3], [16 * k, 32 * k, 64 * k], 16 * k).double().eval()
    g = Graph.resnet("resnet20", width_multiplier=k)
    graph_dict = json.loads(g.to_json())
    rng = np.random.default_rng(0)
    sd = net.state_dict()
    a = {n: v.numpy().copy() for n, v in sd.items()}
    b = {n: v.numpy().copy() for n, v in permute_state_dict(sd, g, rng).items()}
    for n, v in b.items():
        if v.dtype.kind == "f" and v.ndim > 1:
            b[n] = v + 0.5 * v.std() * rng.standard_normal(v.shape)
    models = [a, b]
    acts = {}
    for p in graph_dict["points"]:
        base = rng.standard_normal((2000, p["width"]))
        acts[p["name"]] = ref.activation_similarity(
            [base + rng.standard_normal(base.shape) for _ in range(2)])

    cm = [Model.from_numpy(m) for m in models]

    def libmudsc_merge():
        m = Matcher(g, cm, method="align", alpha=args.alpha)
        for i, p in enumerate(graph_dict["points"]):
            m.set_activation_similarity(i, acts[p["name"]])
        m.run()
        return m, m.merge().to_numpy()

    graph = ref.load_graph(graph_dict)

    def oracle_merge():
        expect = ref.mudsc(graph, models, activations=acts, method="align", alpha=args.alpha)
        return expect, ref.merged_tensors(graph, models, expect.corr)

    # best of `reps` for both sides (the same inputs; first runs pay page faults
    # and thread start-up on either side)
    c_seconds, ref_seconds = float("inf"), float("inf")
    for _ in range(args.reps):
        t0 = time.perf_counter()
        m, merged = libmudsc_merge()
        c_seconds = min(c_seconds, time.perf_counter() - t0)
        t0 = time.perf_counter()
        expect, want = oracle_merge()
        ref_seconds = min(ref_seconds, time.perf_counter() - t0)

    same = all(np.array_equal(m.assignment(i), expect.corr[p.name].P)
               for i, p in enumerate(graph.points))
    worst = max(float(np.max(np.abs(merged[n] - want[n]) / (np.abs(want[n]) + 1e-12)))
                for n in want if want[n].dtype.kind == "f" and want[n].size)
    print(json.dumps({
        "bench": "mudsc-merge-resnet20", "width_mult": k, "points": len(graph.points),
        "alpha": args.alpha, "reps": args.reps, "libmudsc_seconds": round(c_seconds, 3),
        "oracle_seconds": round(ref_seconds, 3), "speedup": round(ref_seconds / c_seconds, 2),
        "sweeps": m.sweeps, "oracle_sweeps": expect.sweeps,
        "same_correspondences": bool(same), "merged_max_rel_diff": worst,
    }))
    return 0 if same and m.sweeps == expect.sweeps else 1


if __name__ == "__main__":
    sys.exit(main())
