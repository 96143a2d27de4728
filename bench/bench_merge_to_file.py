#!/usr/bin/env python3
"""Peak memory and time of the merged output: mudsc_matcher_merge() +
mudsc_model_save() against mudsc_matcher_merge_to_file(), each in a fresh
process, on a deep MLP pair saved as safetensors and loaded mapped.  After
the matching the process's high-water mark is reset (/proc/self/clear_refs),
so the peak is that of the output step: the resident set before it (the
mapped models' pages already read by the matching, the matcher) plus what
the output adds.  Prints JSON (MiB, medians).

Usage: bench_merge_to_file.py [--width 1024] [--layers 24] [--reps 3]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

CHILD = r"""
import sys, time
import mudsc
mode, d, layers, width = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
g = mudsc.Graph.mlp([width] * (layers - 1))
models = [mudsc.Model.load(f"{d}/a.safetensors"), mudsc.Model.load(f"{d}/b.safetensors")]
m = mudsc.Matcher(g, models, max_iter=1, threads=1)
m.run()
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
# the matching's own peak is over: reset the high-water mark (Linux >= 4.0)
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
before = rss()
t = time.perf_counter()
if mode == "merge":
    m.merge().save(f"{d}/out.safetensors")
else:
    m.merge_to_file(f"{d}/out.safetensors")
secs = time.perf_counter() - t
print(before, hwm(), secs)
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--layers", type=int, default=24)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    import numpy as np
    import mudsc
    with tempfile.TemporaryDirectory() as d:
        for name, seed in [("a", 1), ("b", 2)]:
            rng = np.random.default_rng(seed)
            t = {}
            for k in range(a.layers):
                t[f"layers.{k}.weight"] = rng.standard_normal((a.width, a.width), dtype=np.float32)
                t[f"layers.{k}.bias"] = rng.standard_normal(a.width, dtype=np.float32)
            mudsc.Model.from_numpy(t).save(f"{d}/{name}.safetensors")
        model_mb = os.path.getsize(f"{d}/a.safetensors") / 2**20
        res = {}
        for mode in ["merge", "merge_to_file"] * a.reps:
            out = subprocess.run([sys.executable, "-c", CHILD, mode, d, str(a.layers),
                                  str(a.width)], check=True, capture_output=True, text=True,
                                 env=dict(os.environ, OPENBLAS_NUM_THREADS="1")).stdout.split()
            before, peak, secs = int(out[0]) / 1024, int(out[1]) / 1024, float(out[2])
            res.setdefault(mode, []).append((peak, peak - before, secs))
        print(json.dumps({
            "model_mib": round(model_mb, 1), "largest_tensor_mib": a.width ** 2 * 4 / 2**20,
            "load_average": os.getloadavg()[0],
            **{mode: {"peak_rss_mib": statistics.median(r[0] for r in v),
                      "peak_over_rss_before_output_mib": statistics.median(r[1] for r in v),
                      "seconds": statistics.median(r[2] for r in v)} for mode, v in res.items()}},
            indent=2))


if __name__ == "__main__":
    main()
