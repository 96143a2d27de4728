"""The least-squares correction (PLeaS-style), plain NumPy/SciPy float64,
from docs/algorithm.md section 23 (never from the C code).

targets(assign, outputs, merged_width, weights) -> T (n x C'):
    merged unit j's target is the weighted mean over its members u
    (assign[u] = j; model i = u // C with weight w_i, default 1/N) of the
    source outputs outputs[i][:, u % C].
solve(x, t, w0, b0, ridge) -> (w, b):
    x~ = [x, 1]; the minimiser of |x~ W~' - t|^2 + lam |W~ - W~0|^2 with
    lam = ridge * trace(x~'x~) / (D + 1), W~ = [w b]; w keeps w0's shape
    (a conv weight is C' x (in*kh*kw) flattened, patches in that order).
error(x, t, w, b) -> the mean over rows and units of (x w' + b - t)^2.
im2col(x, kh, kw, stride, padding) -> (B*H'*W', in*kh*kw) patches of an
    NCHW array, rows in (b, i, j) order, columns in (in, ki, kj) order.
"""
import numpy as np
import scipy.linalg


def targets(assign, outputs, merged_width, weights=None):
    assign = np.asarray(assign)
    n_models = len(outputs)
    C = assign.size // n_models
    w = np.full(n_models, 1.0 / n_models) if weights is None else np.asarray(weights, float)
    rows = np.asarray(outputs[0]).shape[0]
    num = np.zeros((rows, merged_width))
    den = np.zeros(merged_width)
    for u in range(assign.size):
        i, c = divmod(u, C)
        num[:, assign[u]] += w[i] * np.asarray(outputs[i], np.float64)[:, c]
        den[assign[u]] += w[i]
    if np.any(den == 0):
        raise ValueError("a merged unit whose members have weight 0")
    return num / den


def solve(x, t, w0, b0, ridge=1e-4):
    x = np.asarray(x, np.float64)
    w0 = np.asarray(w0, np.float64)
    rows, d = x.shape
    xt = np.hstack([x, np.ones((rows, 1))])
    g = xt.T @ xt
    h = xt.T @ np.asarray(t, np.float64)
    lam = ridge * np.trace(g) / (d + 1)
    wt0 = np.hstack([w0.reshape(w0.shape[0], -1), np.asarray(b0, np.float64)[:, None]])
    sol = scipy.linalg.solve(g + lam * np.eye(d + 1), h + lam * wt0.T, assume_a="pos")
    return sol[:d].T.reshape(w0.shape), sol[d].copy()


def error(x, t, w, b):
    w = np.asarray(w, np.float64)
    z = np.asarray(x, np.float64) @ w.reshape(w.shape[0], -1).T + np.asarray(b, np.float64)
    return float(np.mean((z - np.asarray(t, np.float64)) ** 2))


def im2col(x, kh, kw, stride=1, padding=0):
    x = np.pad(np.asarray(x, np.float64), ((0, 0), (0, 0), (padding, padding),
                                           (padding, padding)))
    B, cin, H, W = x.shape
    ho, wo = (H - kh) // stride + 1, (W - kw) // stride + 1
    out = np.zeros((B, ho, wo, cin, kh, kw))
    for i in range(ho):
        for j in range(wo):
            out[:, i, j] = x[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
    return out.reshape(B * ho * wo, cin * kh * kw)
