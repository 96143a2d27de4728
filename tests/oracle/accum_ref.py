"""Reference statistics for mudsc_accum, plain NumPy float64.

stacked(xs): Z = [X_0 ... X_{N-1}] (n x NC) from per-model n x C arrays.
stats(xs) -> dict(corr, cov, means, std): the population statistics of the
columns of Z, with corr = Sigma / max(sigma sigma', 1e-7) mirrored from the
upper triangle (mudsc_ref.activation_similarity, algorithm.md §2.3).
rows_of(arr, axis): the n x C observation matrix of a feature tensor whose
features are on `axis` (every index of the other axes, C order, is one
observation).
bf16_bits(x) / bf16_value(bits): bfloat16 as uint16 bit patterns (round to
nearest even) and back to float64.
"""
import numpy as np

from mudsc_ref import activation_similarity


def rows_of(arr, axis):
    a = np.moveaxis(np.asarray(arr), axis, -1)
    return a.reshape(-1, a.shape[-1])


def stacked(xs):
    return np.hstack([np.asarray(x, dtype=np.float64) for x in xs])


def stats(xs):
    Z = stacked(xs)
    mu = Z.mean(axis=0)
    Zc = Z - mu
    cov = Zc.T @ Zc / Z.shape[0]
    cov = np.triu(cov) + np.triu(cov, 1).T
    std = np.sqrt(np.maximum(np.diag(cov), 0.0))
    return {"corr": activation_similarity(xs), "cov": cov, "means": mu, "std": std}


def bf16_bits(x):
    u = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return u.astype(np.uint16)


def bf16_value(bits):
    return (np.asarray(bits, dtype=np.uint32) << 16).view(np.float32).astype(np.float64)


def cross_stats(xs):
    """Cross-block statistics from the definition (docs/algorithm.md section
    14): for models i = 1..N-1 the C x C block of Pearson correlations of
    model 0's features (rows) against model i's (columns), each denominator
    floored at 1e-7, shape (N-1, C, C); and every unit's mean and population
    standard deviation (N*C each).  Computed per pair of models, never from
    the stacked NC x NC matrix."""
    X = [np.asarray(x, dtype=np.float64) for x in xs]
    n = X[0].shape[0]
    mu = [x.mean(axis=0) for x in X]
    sd = [np.sqrt(np.maximum(((x - m) ** 2).mean(axis=0), 0.0)) for x, m in zip(X, mu)]
    blocks = []
    for i in range(1, len(X)):
        cov = (X[0] - mu[0]).T @ (X[i] - mu[i]) / n
        blocks.append(cov / np.maximum(np.outer(sd[0], sd[i]), 1e-7))
    return {"cross": np.stack(blocks), "means": np.concatenate(mu), "std": np.concatenate(sd)}
