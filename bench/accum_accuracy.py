#!/usr/bin/env python3
"""Accuracy figures of mudsc_accum against float64 NumPy (two-pass, centred).

10^6 observations, N = 2 models, C = 64 features, means 1e4 times the
standard deviations, chunks of 4096; F32 and F64 input.  Also: 8 shards
merged (Chan) against the single stream, F64 input (double state).
Prints JSON.  Needs MUDSC_LIBRARY (the built libmudsc.so); run from the
meson benchmark target or by hand.
"""
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "bindings", "python"))
from mudsc import Accumulator  # noqa: E402

N, C, n, CHUNK = 2, 64, 1_000_000, 4096
rng0 = np.random.default_rng(42)
STD = rng0.uniform(0.5, 2.0, N * C)
MEAN = 1e4 * STD
MIX = rng0.standard_normal((C, N * C)) / np.sqrt(C)


def chunk(k):
    """Observations [k*CHUNK, ...): a correlated stack, n_k x NC float64."""
    rng = np.random.default_rng(1000 + k)
    m = min(CHUNK, n - k * CHUNK)
    latent = rng.standard_normal((m, C))
    z = 0.8 * latent @ MIX + 0.6 * rng.standard_normal((m, N * C))
    return MEAN + STD * z


def chunks():
    for k in range((n + CHUNK - 1) // CHUNK):
        yield chunk(k)


def reference(cast):
    """Two-pass float64: exact mean, then centred products."""
    total, count = np.zeros(N * C), 0
    for z in chunks():
        z = z.astype(cast).astype(np.float64)
        total += z.sum(axis=0)
        count += z.shape[0]
    mu = total / count
    m2 = np.zeros((N * C, N * C))
    for z in chunks():
        zc = z.astype(cast).astype(np.float64) - mu
        m2 += zc.T @ zc
    cov = m2 / count
    sd = np.sqrt(np.maximum(np.diag(cov), 0))
    return cov / np.maximum(np.outer(sd, sd), 1e-7), cov, mu


def stream(cast, shards=1):
    accs = [Accumulator(N, C) for _ in range(shards)]
    per = (n + CHUNK - 1) // CHUNK
    for k, z in enumerate(chunks()):
        acc = accs[k * shards // per]
        z = z.astype(cast)
        for i in range(N):
            acc.update(i, np.ascontiguousarray(z[:, i * C:(i + 1) * C]))
    for a in accs[1:]:
        accs[0].merge(a)
    return accs[0]


out = {"bench": "accum_accuracy", "observations": n, "N": N, "C": C,
       "mean_over_std": 1e4}
for name, cast in (("f32", np.float32), ("f64", np.float64)):
    corr, cov, mu = reference(cast)
    acc = stream(cast)
    out[f"{name}_max_abs_corr_error"] = float(np.abs(acc.correlation() - corr).max())
    out[f"{name}_max_rel_cov_error"] = float(np.abs(acc.covariance() - cov).max()
                                           / np.abs(cov).max())
single = stream(np.float64)
merged = stream(np.float64, shards=8)
cs, cm = single.covariance(), merged.covariance()
out["merged8_vs_single_max_rel_cov"] = float(np.abs(cm - cs).max() / np.abs(cs).max())
out["merged8_vs_single_max_abs_corr"] = float(np.abs(merged.correlation()
                                                     - single.correlation()).max())
out["merged8_vs_single_max_rel_mean"] = float(np.abs(merged.means() - single.means()).max()
                                              / np.abs(single.means()).max())
out["pass"] = bool(out["f32_max_abs_corr_error"] < 1e-6 and out["f64_max_abs_corr_error"] < 1e-6
                   and out["merged8_vs_single_max_rel_cov"] < 1e-12)
print(json.dumps(out, indent=2))
sys.exit(0 if out["pass"] else 1)
