#!/usr/bin/python3
"""Time mudsc_lap_solve against scipy.optimize.linear_sum_assignment on the
same matrices, and report the zip speed-up over the naive greedy.

Runs the C benchmark (bench-match --dir TMP) which writes its matrices to
TMP/*.f64 and prints its own timings; then loads the matrices, times SciPy
(maximize=True) and the C solver through ctypes (best of --reps each),
checks that the objectives agree, and prints a table and a JSON summary.

  /usr/bin/python3 bench/lap_vs_scipy.py --bench build/bench/bench-match \\
      --lib build/lib/libmudsc.so [--reps 3]
"""
import argparse
import ctypes
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment


def best_of(reps, fn):
    best = float("inf")
    out = None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", required=True, help="path of the bench-match executable")
    ap.add_argument("--lib", required=True, help="path of libmudsc.so")
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args(argv)

    lib = ctypes.CDLL(args.lib)
    lib.mudsc_lap_solve.restype = ctypes.c_int
    lib.mudsc_lap_solve.argtypes = [ctypes.POINTER(ctypes.c_int64),
                                    ctypes.POINTER(ctypes.c_double),
                                    ctypes.POINTER(ctypes.c_double), ctypes.c_int64]

    def c_lap(S):
        n = S.shape[0]
        x = np.empty(n, dtype=np.int64)
        obj = ctypes.c_double()
        st = lib.mudsc_lap_solve(x.ctypes.data_as(ctypes.POINTER(ctypes.c_int64)),
                                 ctypes.byref(obj),
                                 S.ctypes.data_as(ctypes.POINTER(ctypes.c_double)), n)
        if st != 0:
            raise RuntimeError(f"mudsc_lap_solve failed with status {st}")
        return obj.value

    def scipy_lap(S):
        r, c = linear_sum_assignment(S, maximize=True)
        return S[r, c].sum()

    with tempfile.TemporaryDirectory() as tmp:
        run = subprocess.run([args.bench, "--dir", tmp, "--reps", str(args.reps)],
                             capture_output=True, text=True, check=True)
        cres = json.loads(run.stdout)
        rows = []
        for entry in cres["lap"]:
            n = entry["n"]
            S = np.fromfile(Path(tmp) / (entry["name"] + ".f64"), dtype="<f8").reshape(n, n)
            t_scipy, obj_scipy = best_of(args.reps, lambda: scipy_lap(S))
            t_c, obj_c = best_of(args.reps, lambda: c_lap(S))
            if abs(obj_c - obj_scipy) > 1e-9 * max(1.0, abs(obj_scipy)):
                raise SystemExit(f"{entry['name']}: objectives differ: C {obj_c!r} "
                                 f"SciPy {obj_scipy!r}")
            rows.append({"name": entry["name"], "kind": entry["kind"], "n": n,
                         "scipy_s": t_scipy, "c_ctypes_s": t_c, "c_bench_s": entry["seconds"],
                         "ratio": t_scipy / t_c})

    print(f"{'matrix':<20} {'n':>5} {'scipy s':>9} {'C s':>9} {'C(bench) s':>11} {'ratio':>6}")
    for r in rows:
        print(f"{r['name']:<20} {r['n']:>5} {r['scipy_s']:>9.4f} {r['c_ctypes_s']:>9.4f} "
              f"{r['c_bench_s']:>11.4f} {r['ratio']:>6.2f}")
    z = cres["zip"]
    print(f"zip NC={z['NC']}: {z['seconds']:.4f} s vs naive greedy {z['naive_seconds']:.3f} s "
          f"(x{z['speedup']}, same merges: {z['agree']})")
    print(json.dumps({"lap": rows, "zip": z}))
    ok = all(r["ratio"] >= 2.0 for r in rows) and z["speedup"] >= 20 and z["agree"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
