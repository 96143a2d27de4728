#!/usr/bin/env python3
"""Reducing P shard statistics sets against accumulating them (issue 12).

A ResNet-20x2 graph (Graph.resnet(preset="resnet20", width_multiplier=2)), N = 2 models; each
point's features are those of CIFAR-sized images (32x32 input: the stage of
width 32 sees 32x32 positions, 64 16x16, 128 8x8), F32, random.  The whole
calibration data (IMAGES images) is split into P shards; each shard's set is
accumulated, then the P sets are merged into one (P - 1 merges) and, as a
process would, passed as bytes (to_bytes + from_bytes).  Prints, for P = 2
and 4, the accumulation time, the reduction time and their ratio (median of
RUNS runs), and the file size against the raw sums.

Usage: MUDSC_LIBRARY=build/lib/libmudsc.so.0 PYTHONPATH=bindings/python \
       /usr/bin/python3 bench/bench_stats_reduce.py [IMAGES] [RUNS]
"""
import statistics
import sys
import time

import numpy as np

import mudsc

IMAGES = int(sys.argv[1]) if len(sys.argv) > 1 else 64
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
SPATIAL = {32: 32 * 32, 64: 16 * 16, 128: 8 * 8}

g = mudsc.Graph.resnet(preset="resnet20", width_multiplier=2)
names = [p.name for p in g.points]
rng = np.random.default_rng(0)
# one image's features per point and model, reused for every image (the
# cost does not depend on the values)
feat = {p.name: rng.standard_normal((2, SPATIAL[p.width], p.width)).astype(np.float32)
        for p in g.points}


def accumulate(images):
    s = mudsc.Stats(g, 2)
    for _ in range(images):
        for name in names:
            for i in range(2):
                s.update(name, i, feat[name][i])
    return s


def one_run(P):
    t0 = time.perf_counter()
    shards = [accumulate(IMAGES // P) for _ in range(P)]
    t1 = time.perf_counter()
    blobs = [s.to_bytes() for s in shards]
    total = mudsc.Stats.from_bytes(blobs[0], g)
    for b in blobs[1:]:
        total.merge(mudsc.Stats.from_bytes(b, g))
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, len(blobs[0])


for P in (2, 4):
    runs = [one_run(P) for _ in range(RUNS)]
    acc = statistics.median(r[0] for r in runs)
    red = statistics.median(r[1] for r in runs)
    size = runs[0][2]
    raw = sum(8 * (2 * 2 * p.width + (2 * p.width) * (2 * p.width + 1) // 2 + 2) for p in g.points)
    print(f"P={P}: accumulate {IMAGES} images {acc:.3f} s, reduce (bytes + {P - 1} merges) "
          f"{red * 1e3:.1f} ms = {100 * red / acc:.2f}% ; file {size} bytes, raw sums {raw} "
          f"(+{100 * (size - raw) / raw:.2f}%)")
