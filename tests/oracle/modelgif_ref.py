"""Reference ModelGiF distances, plain NumPy float64, written from the
definition in docs/algorithm.md section 14, not from the C code.

rule(name, K) -> (t, w): the quadrature rule on [0, 1]; Gauss-Legendre from
numpy.polynomial.legendre.leggauss (not Golub-Welsch) mapped from [-1, 1],
the Riemann rules by their formulas.

fields(grads, x, b, w) -> F: grads (K, M, D) of one model at the path points
(step k, input m), x and b (M, D); F[k, m] = (x_m - b_m) * sum_{j<=k} w_j
grads[j, m].

cosine(u, v): u.v / (|u||v|); 1 if both are zero, 0 if one is.

distances(grads_per_model, x, b, w) -> (D, per_step, per_input): the N x N
mean over inputs and steps of 1 - cos(F_f, F_h), and its (K, N, N) and
(M, N, N) details.
"""
import numpy as np


def rule(name, k):
    if name == "gauss-legendre":
        x, v = np.polynomial.legendre.leggauss(k)
        return (x + 1.0) / 2.0, v / 2.0
    j = np.arange(k, dtype=np.float64)
    if name == "riemann-left":
        return j / k, np.full(k, 1.0 / k)
    if name == "riemann-right":
        return (j + 1) / k, np.full(k, 1.0 / k)
    if name == "riemann-middle":
        return (j + 0.5) / k, np.full(k, 1.0 / k)
    if name == "riemann-trapezoid":
        w = np.full(k, 1.0 / (k - 1))
        w[0] = w[-1] = 0.5 / (k - 1)
        return j / (k - 1), w
    raise ValueError(name)


def fields(grads, x, b, w):
    g = np.asarray(grads, dtype=np.float64)
    cum = np.cumsum(np.asarray(w)[:, None, None] * g, axis=0)
    return (np.asarray(x, np.float64) - np.asarray(b, np.float64))[None] * cum


def cosine(u, v):
    nu, nv = np.linalg.norm(u), np.linalg.norm(v)
    if nu == 0.0 and nv == 0.0:
        return 1.0
    if nu == 0.0 or nv == 0.0:
        return 0.0
    return float(np.clip(np.dot(u, v) / (nu * nv), -1.0, 1.0))


def distances(grads_per_model, x, b, w):
    F = [fields(g, x, b, w) for g in grads_per_model]
    n = len(F)
    k, m = F[0].shape[0], F[0].shape[1]
    per = np.zeros((k, m, n, n))
    for i in range(n):
        for j in range(i + 1, n):
            for s in range(k):
                for q in range(m):
                    per[s, q, i, j] = per[s, q, j, i] = 1.0 - cosine(F[i][s, q], F[j][s, q])
    return per.mean(axis=(0, 1)), per.mean(axis=1), per.mean(axis=0)
