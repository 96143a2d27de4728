"""CCA merging, plain NumPy/SciPy float64, from docs/algorithm.md section 22
(never from the C code).

covariance(feats) -> NC x NC: the population covariance (divided by n) of
    the stacked features, feats a list of N arrays (n x C), model order.
transforms(cov, N, C, G=1, ridge=0.1) -> (M, U, rho): per model i the C x C
    merge matrix M[i] (row u = model i's unit, column j = model 0's unit)
    and unmerge matrix U[i] = M[i]^-T, M[0] = U[0] = I, block diagonal over
    the G groups of C/G consecutive units; rho = the mean canonical
    correlation over models 1..N-1 and all units.  For each block:
        Sx = C00 + r (tr C00 / g) I,  Sy = Cii + r (tr Cii / g) I
        A  = Sx^-1/2 C0i Sy^-1/2,     Q = the orthogonal polar factor of A
        M_i = Sy^-1/2 Q' Sx^1/2,      U_i = Sy^1/2 Q' Sx^-1/2
    (square roots by scipy.linalg.sqrtm, the polar factor by
    scipy.linalg.polar: the C code uses eigendecompositions and an SVD).
DenseCorrespondence(M, U): the object mudsc_ref.merged_tensors and
    transformed_tensors take as a point's correspondence (merge_hat(i, w) =
    M_i: one member per model and merged unit; unmerge(i) = U_i).
merged(graph_doc, models, feats_per_point, groups, ridge, weights): the
    merged tensors (float64 sums, cast=False), through mudsc_ref.
"""
import numpy as np
import scipy.linalg as sl

import mudsc_ref as ref


def covariance(feats):
    Z = np.concatenate([np.asarray(f, np.float64) for f in feats], axis=1)
    Z = Z - Z.mean(axis=0)
    return Z.T @ Z / Z.shape[0]


def _sqrt(S):
    R = sl.sqrtm(S)
    return np.real(R)


def transforms(cov, N, C, G=1, ridge=0.1):
    cov = np.asarray(cov, np.float64)
    g = C // G
    M = [np.eye(C) for _ in range(N)]
    U = [np.eye(C) for _ in range(N)]
    rho = 0.0
    for i in range(1, N):
        M[i] = np.zeros((C, C))
        U[i] = np.zeros((C, C))
        for b in range(G):
            x = slice(b * g, (b + 1) * g)
            y = slice(i * C + b * g, i * C + (b + 1) * g)
            Cxx, Cyy, Cxy = cov[x, x], cov[y, y], cov[x, y]
            Sx = Cxx + ridge * np.trace(Cxx) / g * np.eye(g)
            Sy = Cyy + ridge * np.trace(Cyy) / g * np.eye(g)
            if min(np.linalg.eigvalsh(Sx)[0], np.linalg.eigvalsh(Sy)[0]) <= 0:
                raise np.linalg.LinAlgError("a covariance plus the ridge is singular")
            xr, yr = _sqrt(Sx), _sqrt(Sy)
            xi, yi = np.linalg.inv(xr), np.linalg.inv(yr)
            A = xi @ Cxy @ yi
            Q, _ = sl.polar(A, side="right")
            rho += np.linalg.svd(A, compute_uv=False).sum()
            M[i][x, x] = yi @ Q.T @ xr
            U[i][x, x] = yr @ Q.T @ xi
    return M, U, rho / ((N - 1) * C)


class DenseCorrespondence:
    def __init__(self, M, U):
        self.M, self.U = M, U

    def merge_hat(self, i, weights):
        return self.M[i]

    def merge(self, i):
        return self.M[i]

    def unmerge(self, i):
        return self.U[i]


def merged(graph_doc, models, feats_per_point, groups, ridge=0.1, weights=None):
    graph = ref.load_graph(graph_doc)
    N = len(models)
    corr = {}
    for p in graph.points:
        feats = feats_per_point[p.name]
        C = feats[0].shape[1]
        M, U, _ = transforms(covariance(feats), N, C, groups.get(p.name, 1), ridge)
        corr[p.name] = DenseCorrespondence(M, U)
    return ref.merged_tensors(graph, models, corr, weights=weights, cast=False)
