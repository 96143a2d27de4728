"""REPAIR, plain NumPy float64, from docs/algorithm.md section 17 (never
from the C code).

targets(assign, means, stds, n_models, merged_width, weights) -> (mu, sigma):
    per merged unit j, the weighted mean over its members u (assign[u] = j;
    model i = u // C has weight w_i) of the source means and stds.
scale_shift(mu, sigma, merged_mean, merged_std, min_std) -> (s, t):
    s = sigma / merged_std (1 where merged_std <= min_std), t = mu - s * merged_mean.
apply(tensors, scale_names, shift_name, s, t) -> new dict: the tensors named
    in scale_names scaled along axis 0 by s, then t added to shift_name.
mlp_forward(tensors, x, n_layers) -> (output, pre): the pre-activation
    output of every hidden Linear of a "layers.{k}" ReLU MLP.
"""
import numpy as np


def targets(assign, means, stds, n_models, merged_width, weights=None):
    assign = np.asarray(assign)
    C = assign.size // n_models
    w = np.full(n_models, 1.0 / n_models) if weights is None else np.asarray(weights, float)
    num_mu = np.zeros(merged_width)
    num_sd = np.zeros(merged_width)
    den = np.zeros(merged_width)
    for u in range(assign.size):
        wi = w[u // C]
        num_mu[assign[u]] += wi * means[u]
        num_sd[assign[u]] += wi * stds[u]
        den[assign[u]] += wi
    if np.any(den == 0):
        raise ValueError("a merged unit whose members have weight 0")
    return num_mu / den, num_sd / den


def scale_shift(mu, sigma, merged_mean, merged_std, min_std=1e-8):
    merged_std = np.asarray(merged_std, float)
    safe = np.where(merged_std > min_std, merged_std, 1.0)
    s = np.where(merged_std > min_std, np.asarray(sigma) / safe, 1.0)
    return s, np.asarray(mu) - s * np.asarray(merged_mean)


def apply(tensors, scale_names, shift_name, s, t):
    out = {k: np.array(v, dtype=np.float64) for k, v in tensors.items()}
    for name in scale_names:
        a = out[name]
        out[name] = a * s.reshape((-1,) + (1,) * (a.ndim - 1))
    out[shift_name] = out[shift_name] + t
    return out


def mlp_forward(tensors, x, n_layers):
    h = np.asarray(x, dtype=np.float64)
    pre = []
    for k in range(n_layers):
        z = h @ np.asarray(tensors[f"layers.{k}.weight"], np.float64).T + \
            np.asarray(tensors[f"layers.{k}.bias"], np.float64)
        if k + 1 < n_layers:
            pre.append(z)
            z = np.maximum(z, 0.0)
        h = z
    return h, pre


def layer_targets(means, stds, weights=None):
    """A layer whose units correspond by index in all N models (section
    17.5): per unit j, the weighted mean over the models of means[i][j] and
    stds[i][j] (weights w_i, default 1/N)."""
    n = len(means)
    w = np.full(n, 1.0 / n) if weights is None else np.asarray(weights, float)
    if w.sum() == 0:
        raise ValueError("the weights sum to 0")
    mu = sum(w[i] * np.asarray(means[i], float) for i in range(n)) / w.sum()
    sd = sum(w[i] * np.asarray(stds[i], float) for i in range(n)) / w.sum()
    return mu, sd
