"""Small networks (dicts of NumPy arrays) and their graph descriptions
(docs/graph-format.md JSON, as dicts) for the oracle's self-checks and for
tests that compare the C library with the oracle.

MLP (mlp_graph, random_mlp, mlp_forward, permute_mlp)
-----------------------------------------------------
widths = [d_0, d_1, ..., d_L]; layer k = 1..L maps d_{k-1} -> d_k:
  fc{k}.weight  (d_k, d_{k-1})      fc{k}.bias  (d_k,)
with norm=True every hidden layer k < L is followed by an eval-mode
BatchNorm: bn{k}.weight, bn{k}.bias, bn{k}.running_mean, bn{k}.running_var.
Forward: h_0 = x (n x d_0); z_k = h_{k-1} W_k' + b_k; for k < L:
[BatchNorm,] ReLU -> h_k; the output is z_L.
Hidden point k (k = 1..L-1), named "fc{k}", width d_k, groups G_k:
  out  fc{k}.weight axis 0, fc{k}.bias axis 0
       [bn{k}.weight, bn{k}.bias axis 0; bn{k}.running_mean, bn{k}.running_var
       axis 0 with ignore]
  in   fc{k+1}.weight axis 1
  site {"name": "fc{k}.act", "axis": -1}
A permutation of point k (permute_mlp) maps new unit j to old unit perm[j].

Fused net (fused_graph, random_fused, fused_forward, permute_fused)
-------------------------------------------------------------------
Exercises splits, a whole-tensor binding next to part bindings, and groups:
  h0 = relu(x fc0.weight' + fc0.bias)                      point "h0", width H0
  z  = h0 fused.weight' + fused.bias      fused.weight (2H, H0), fused.bias (2H)
       split along axis 0 into parts "a", "b"
  a  = groupnorm(relu(z[:, :H]))   per group of H/G units: v / (1 + sum v)
                                                          point "a", width H, G groups
  b  = relu(z[:, H:])                                      point "b", width H
  y  = [a b] proj.weight' + proj.bias     proj.weight (d_out, 2H) split along
       axis 1 into parts "a", "b"
Bindings: "h0": out fc0.weight/0, fc0.bias/0; in fused.weight/1 (whole tensor).
"a" / "b": out fused.weight part/0, fused.bias part/0; in proj.weight part/1.
The function is unchanged by any permutation of h0 and b and by any
permutation of a that maps groups to groups.
"""
import numpy as np


# ---------------------------------------------------------------------------
# MLP
# ---------------------------------------------------------------------------

def mlp_graph(widths, groups=None, norm=False):
    """Graph description (dict) of the MLP with the given widths."""
    L = len(widths) - 1
    groups = groups or {}
    points = []
    for k in range(1, L):
        bindings = [{"tensor": f"fc{k}.weight", "axis": 0, "role": "out"},
                    {"tensor": f"fc{k}.bias", "axis": 0, "role": "out"}]
        if norm:
            bindings += [{"tensor": f"bn{k}.weight", "axis": 0, "role": "out"},
                         {"tensor": f"bn{k}.bias", "axis": 0, "role": "out"},
                         {"tensor": f"bn{k}.running_mean", "axis": 0, "role": "out",
                          "ignore": True},
                         {"tensor": f"bn{k}.running_var", "axis": 0, "role": "out",
                          "ignore": True}]
        bindings.append({"tensor": f"fc{k + 1}.weight", "axis": 1, "role": "in"})
        points.append({"name": f"fc{k}", "width": widths[k], "groups": groups.get(k, 1),
                       "site": {"name": f"fc{k}.act", "axis": -1}, "bindings": bindings})
    return {"format": "mudsc-graph", "version": 1, "points": points}


def random_mlp(widths, seed, norm=False, dtype=np.float64):
    """Random MLP weights (normal, 1/sqrt(fan-in) scale)."""
    rng = np.random.default_rng(seed)
    L = len(widths) - 1
    model = {}
    for k in range(1, L + 1):
        model[f"fc{k}.weight"] = (rng.standard_normal((widths[k], widths[k - 1]))
                                  / np.sqrt(widths[k - 1])).astype(dtype)
        model[f"fc{k}.bias"] = (0.1 * rng.standard_normal(widths[k])).astype(dtype)
        if norm and k < L:
            model[f"bn{k}.weight"] = (1.0 + 0.1 * rng.standard_normal(widths[k])).astype(dtype)
            model[f"bn{k}.bias"] = (0.1 * rng.standard_normal(widths[k])).astype(dtype)
            model[f"bn{k}.running_mean"] = (0.1 * rng.standard_normal(widths[k])).astype(dtype)
            model[f"bn{k}.running_var"] = (1.0 + rng.random(widths[k])).astype(dtype)
    return model


def mlp_forward(model, x, norm=False):
    """(output, [h_1, ..., h_{L-1}]) for observations x (n x d_0)."""
    L = sum(1 for k in model if k.startswith("fc") and k.endswith(".weight"))
    h = np.asarray(x, dtype=np.float64)
    hidden = []
    for k in range(1, L + 1):
        z = h @ model[f"fc{k}.weight"].T + model[f"fc{k}.bias"]
        if k == L:
            return z, hidden
        if norm:
            z = ((z - model[f"bn{k}.running_mean"]) / np.sqrt(model[f"bn{k}.running_var"] + 1e-5)
                 * model[f"bn{k}.weight"] + model[f"bn{k}.bias"])
        h = np.maximum(z, 0.0)
        hidden.append(h)
    raise AssertionError("unreachable")


def permute_mlp(model, perms):
    """Copy of the MLP with hidden layer k's units permuted by perms[k]
    (new unit j = old unit perms[k][j]); written with plain indexing."""
    out = {k: v.copy() for k, v in model.items()}
    for k, perm in perms.items():
        out[f"fc{k}.weight"] = out[f"fc{k}.weight"][perm, :]
        out[f"fc{k}.bias"] = out[f"fc{k}.bias"][perm]
        for t in ("weight", "bias", "running_mean", "running_var"):
            if f"bn{k}.{t}" in out:
                out[f"bn{k}.{t}"] = out[f"bn{k}.{t}"][perm]
        out[f"fc{k + 1}.weight"] = out[f"fc{k + 1}.weight"][:, perm]
    return out


# ---------------------------------------------------------------------------
# Fused net (splits + groups)
# ---------------------------------------------------------------------------

def fused_graph(H0, H, G):
    """Graph description (dict) of the fused net; see the module docstring."""
    return {
        "format": "mudsc-graph", "version": 1,
        "splits": [{"tensor": "fused.weight", "axis": 0, "parts": ["a", "b"]},
                   {"tensor": "fused.bias", "axis": 0, "parts": ["a", "b"]},
                   {"tensor": "proj.weight", "axis": 1, "parts": ["a", "b"]}],
        "points": [
            {"name": "h0", "width": H0, "site": {"name": "h0", "axis": -1}, "bindings": [
                {"tensor": "fc0.weight", "axis": 0, "role": "out"},
                {"tensor": "fc0.bias", "axis": 0, "role": "out"},
                {"tensor": "fused.weight", "axis": 1, "role": "in"}]},
            {"name": "a", "width": H, "groups": G, "site": {"name": "a", "axis": -1},
             "bindings": [
                 {"tensor": "fused.weight", "part": "a", "axis": 0, "role": "out"},
                 {"tensor": "fused.bias", "part": "a", "axis": 0, "role": "out"},
                 {"tensor": "proj.weight", "part": "a", "axis": 1, "role": "in"}]},
            {"name": "b", "width": H, "site": {"name": "b", "axis": -1}, "bindings": [
                {"tensor": "fused.weight", "part": "b", "axis": 0, "role": "out"},
                {"tensor": "fused.bias", "part": "b", "axis": 0, "role": "out"},
                {"tensor": "proj.weight", "part": "b", "axis": 1, "role": "in"}]},
        ],
    }


def random_fused(d_in, H0, H, d_out, seed):
    rng = np.random.default_rng(seed)
    return {
        "fc0.weight": rng.standard_normal((H0, d_in)) / np.sqrt(d_in),
        "fc0.bias": 0.1 * rng.standard_normal(H0),
        "fused.weight": rng.standard_normal((2 * H, H0)) / np.sqrt(H0),
        "fused.bias": 0.1 * rng.standard_normal(2 * H),
        "proj.weight": rng.standard_normal((d_out, 2 * H)) / np.sqrt(2 * H),
        "proj.bias": 0.1 * rng.standard_normal(d_out),
    }


def fused_forward(model, x, G):
    """(y, {"h0": h0, "a": a, "b": b}) for observations x (n x d_in)."""
    H = model["fused.weight"].shape[0] // 2
    h0 = np.maximum(x @ model["fc0.weight"].T + model["fc0.bias"], 0.0)
    z = h0 @ model["fused.weight"].T + model["fused.bias"]
    v = np.maximum(z[:, :H], 0.0).reshape(len(x), G, H // G)
    a = (v / (1.0 + v.sum(axis=2, keepdims=True))).reshape(len(x), H)
    b = np.maximum(z[:, H:], 0.0)
    y = np.hstack([a, b]) @ model["proj.weight"].T + model["proj.bias"]
    return y, {"h0": h0, "a": a, "b": b}


def permute_fused(model, perms):
    """Copy of the fused net with points permuted: perms maps "h0"/"a"/"b" to
    a permutation (new unit j = old unit perm[j])."""
    out = {k: v.copy() for k, v in model.items()}
    H = out["fused.weight"].shape[0] // 2
    if "h0" in perms:
        p = perms["h0"]
        out["fc0.weight"] = out["fc0.weight"][p]
        out["fc0.bias"] = out["fc0.bias"][p]
        out["fused.weight"] = out["fused.weight"][:, p]
    for name, off in (("a", 0), ("b", H)):
        if name in perms:
            rows = off + np.asarray(perms[name])
            idx = np.arange(2 * H)
            idx[off:off + H] = rows
            out["fused.weight"] = out["fused.weight"][idx]
            out["fused.bias"] = out["fused.bias"][idx]
            out["proj.weight"] = out["proj.weight"][:, idx]
    return out


def block_perm(G, Cg, rng):
    """A random permutation of G*Cg units that maps blocks of Cg to blocks."""
    blocks = rng.permutation(G)
    return np.concatenate([blocks[g] * Cg + rng.permutation(Cg) for g in range(G)])
