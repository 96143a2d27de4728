"""Reference MuDSC in NumPy/SciPy: the oracle the C library is tested against.

It follows docs/algorithm.md, libmudsc's numerical contract (section numbers
below, "algorithm.md §n", refer to it) and is written to be
read, not to be fast.  It shares no code with the C library.

Conventions
-----------
N models, point p of width C (G groups of Cg = C/G units); stacked index
u = i*C + c for unit c of model i.  A model is a dict name -> tensor, where a
tensor is a NumPy array (bool/int/float16/float32/float64) or a
safetensors_np.Raw (BF16 bits; F8 types are treated as non-float).

A correspondence (class Correspondence) stores P as an int array of length NC:
P[u] = index of the merged unit that stacked unit u belongs to; Cp = C'.  Its
0/1 matrix form, the merge matrices M_i and unmerge matrices U_i (algorithm.md §6)
are methods.  `pairs` lists the stacked-index pairs whose similarities define
the point's score (algorithm.md §6), so the same pairs give the S_w, S_a and S
scores.

API (every function is documented where it is defined)
------------------------------------------------------
  load_graph(path_or_dict) -> Graph
  check_graph(graph, models)
  similarity(Z, kind="pearson", eps=1e-7) -> (V x V)
  activation_similarity(xs, kind="pearson", eps=1e-7) -> (NC x NC)
  weight_features(graph, models, point, corr) -> [F_0, ..., F_{N-1}]
  weight_similarity(graph, models, point, corr, kind="pearson") -> (NC x NC)
  lap_max(S) -> perm
  align(S, N, C) / group_align(S, N, C, G) -> Correspondence
  zip_match(S, N, C, r=0.5, a=0.5, b=1.0) / group_zip(S, N, C, G, r, a, b)
      -> Correspondence          (`zip` is an alias of zip_match)
  match(S, N, C, G=1, method="align", r=0.5, a=0.5, b=1.0) -> Correspondence
  score(S, corr) -> float
  SplitMix64(seed), shuffled_order(rng, P)
  mudsc(graph, models, activations=None, method="align", alpha=0.5, r=0.5,
        a=0.5, b=1.0, use_groups=True, max_iter=100, patience=5, seed=0,
        kind="pearson") -> MudscResult
  transformed_tensors(graph, models, corr, i, weights=None) -> {name: f64}
  unbound_tensors(graph, model) -> [name]
  permute_only(graph, models, corr, i) -> {name: tensor in its dtype}
  merged_tensors(graph, models, corr, weights=None, cast=True) -> {name: ...}

Command line
------------
  /usr/bin/python3 mudsc_ref.py --graph g.json --model a.safetensors \\
      --model b.safetensors [--acts POINT=feat.npy ...] [--sa POINT=sa.npy ...] \\
      [--method align|zip] [--alpha 0.5] [--r 0.5] [--a 0.5] [--b 1] \\
      [--no-groups] [--max-iter 100] [--patience 5] [--seed 0] \\
      [--kind pearson|cosine] [--weights 0.5,0.5] [--transformed] \\
      [--out-model merged.safetensors] --out result.npz

  --acts POINT=FILE  features of POINT: a .npy of shape (N, n, C) (model i's
                     n x C observations in [i]) or (n, N*C) (already stacked);
                     S_a = activation_similarity.  Give it for every point or
                     for none.
  --sa POINT=FILE    S_a of POINT given directly, a .npy of shape (NC, NC).
  result.npz keys:
    points               names of the points, in graph order
    P/<point>            int64 (NC,) merged unit of every stacked unit
    Cp/<point>           int64 scalar, C'
    pairs/<point>        int64 (k, 2) the scored pairs
    scores               float64 (points, 3): S_w, S_a, S score of each point
                         as recorded in the best sweep (NaN when not computed)
    objectives           float64 (sweeps,) objective of every sweep
    sweeps, best_sweep   int64 scalars (best_sweep = -1: no sweep was run)
    merged/<tensor>      merged tensor in its dtype (BF16/F8 as raw bits)
    merged_f64/<tensor>  the same in float64 before rounding (float tensors)
    dtype/<tensor>       safetensors dtype string of the tensor
    transformed/<i>/<tensor>  (with --transformed) model i's T_i' in float64
"""
import argparse
import json
import math
import sys
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

try:
    from . import safetensors_np as st
except ImportError:
    import safetensors_np as st


class MudscNumericError(ArithmeticError):
    """Zip found no admissible merge (every remaining entry is -inf): the C
    library's MUDSC_E_NUMERIC (algorithm.md §9.2 step 1)."""


# ---------------------------------------------------------------------------
# Graph description (docs/graph-format.md)
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Binding:
    tensor: str
    axis: int
    role: str            # "out" or "in"
    part: object = None  # part name of a declared split, or None
    ignore: bool = False


@dataclass
class Point:
    name: str
    width: int
    groups: int
    site: object          # dict {"name", "axis"} or None
    bindings: list


@dataclass
class Split:
    tensor: str
    axis: int
    parts: list


@dataclass
class Graph:
    points: list
    splits: dict          # tensor name -> Split

    def index(self, point):
        """Index of a point given by name or index."""
        if isinstance(point, (int, np.integer)):
            if not 0 <= point < len(self.points):
                raise KeyError(f"point index {point} out of range")
            return int(point)
        for k, p in enumerate(self.points):
            if p.name == point:
                return k
        raise KeyError(f"no point named {point!r}")

    def bindings_of(self, tensor, part):
        """[(point index, Binding)] binding exactly (tensor, part)."""
        return [(k, b) for k, p in enumerate(self.points) for b in p.bindings
                if b.tensor == tensor and b.part == part]

    def is_bound(self, tensor):
        return any(b.tensor == tensor for p in self.points for b in p.bindings)

    def cut(self, T, tensor, part):
        """The contiguous slice of fused tensor T that is `part`."""
        sp = self.splits[tensor]
        L, n = T.shape[sp.axis], len(sp.parts)
        if L % n:
            raise ValueError(f"split tensor {tensor!r}: axis {sp.axis} length {L} "
                             f"not divisible by {n} parts")
        j = sp.parts.index(part)
        index = [slice(None)] * T.ndim
        index[sp.axis] = slice(j * L // n, (j + 1) * L // n)
        return T[tuple(index)]


def _is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def _keys(obj, what, required, optional):
    if not isinstance(obj, dict):
        raise ValueError(f"graph: {what} must be an object")
    missing = [k for k in required if k not in obj]
    extra = [k for k in obj if k not in required and k not in optional]
    if missing:
        raise ValueError(f"graph: {what} lacks {missing}")
    if extra:
        raise ValueError(f"graph: {what} has unknown keys {extra}")


def load_graph(path_or_dict):
    """Load a graph description (docs/graph-format.md, version 1).

    Accepts a file path, a JSON string starting with '{', or an already
    parsed dict.  Checks the schema (required keys, types, no unknown keys at
    any level, unique point names, groups divide width, parts exist, no axis
    bound twice, split axis bound only through parts) and returns a Graph."""
    if isinstance(path_or_dict, dict):
        doc = path_or_dict
    elif isinstance(path_or_dict, str) and path_or_dict.lstrip().startswith("{"):
        doc = json.loads(path_or_dict)
    else:
        with open(path_or_dict, "r", encoding="utf-8") as f:
            doc = json.load(f)
    _keys(doc, "top level", ["format", "version", "points"], ["splits"])
    if doc["format"] != "mudsc-graph":
        raise ValueError(f"graph: format {doc['format']!r} is not 'mudsc-graph'")
    if not _is_int(doc["version"]) or doc["version"] != 1:
        raise ValueError(f"graph: unknown version {doc['version']!r}")
    splits = {}
    for s in doc.get("splits", []):
        _keys(s, "split", ["tensor", "axis", "parts"], [])
        if not isinstance(s["tensor"], str) or not s["tensor"]:
            raise ValueError("graph: split tensor must be a non-empty string")
        if not _is_int(s["axis"]) or s["axis"] < 0:
            raise ValueError(f"graph: split {s['tensor']!r}: bad axis")
        parts = s["parts"]
        if (not isinstance(parts, list) or len(parts) < 2
                or not all(isinstance(q, str) and q for q in parts)
                or len(set(parts)) != len(parts)):
            raise ValueError(f"graph: split {s['tensor']!r}: parts must be >= 2 distinct "
                             "non-empty strings")
        if s["tensor"] in splits:
            raise ValueError(f"graph: tensor {s['tensor']!r} split twice")
        splits[s["tensor"]] = Split(s["tensor"], s["axis"], list(parts))
    if not isinstance(doc["points"], list):
        raise ValueError("graph: points must be an array")
    points, names, bound = [], set(), set()
    for pd in doc["points"]:
        _keys(pd, "point", ["name", "width", "bindings"], ["groups", "site"])
        name = pd["name"]
        if not isinstance(name, str) or not name or name in names:
            raise ValueError(f"graph: point name {name!r} empty, not a string or repeated")
        names.add(name)
        width, groups = pd["width"], pd.get("groups", 1)
        if not _is_int(width) or width < 1:
            raise ValueError(f"graph: point {name!r}: width must be an integer >= 1")
        if not _is_int(groups) or groups < 1 or width % groups:
            raise ValueError(f"graph: point {name!r}: groups {groups!r} must divide width {width}")
        site = pd.get("site")
        if site is not None:
            _keys(site, f"point {name!r} site", ["name", "axis"], [])
            if not isinstance(site["name"], str) or not _is_int(site["axis"]):
                raise ValueError(f"graph: point {name!r}: bad site")
        if not isinstance(pd["bindings"], list):
            raise ValueError(f"graph: point {name!r}: bindings must be an array")
        bindings = []
        for bd in pd["bindings"]:
            _keys(bd, f"binding of point {name!r}", ["tensor", "axis", "role"], ["part", "ignore"])
            t, axis, role = bd["tensor"], bd["axis"], bd["role"]
            part, ignore = bd.get("part"), bd.get("ignore", False)
            if not isinstance(t, str) or not t:
                raise ValueError(f"graph: point {name!r}: binding tensor must be non-empty")
            if not _is_int(axis) or axis < 0:
                raise ValueError(f"graph: point {name!r}: binding {t!r}: bad axis")
            if role not in ("out", "in"):
                raise ValueError(f"graph: point {name!r}: binding {t!r}: role must be out/in")
            if not isinstance(ignore, bool):
                raise ValueError(f"graph: point {name!r}: binding {t!r}: ignore must be boolean")
            if part is not None:
                if t not in splits or part not in splits[t].parts:
                    raise ValueError(f"graph: point {name!r}: {t!r} has no declared part {part!r}")
            elif t in splits and axis == splits[t].axis:
                raise ValueError(f"graph: point {name!r}: split axis of {t!r} may only be "
                                 "bound through its parts")
            # An axis is bound once: for a split tensor a whole-tensor binding
            # on axis k also covers axis k of every part.
            keys = [(t, part, axis)]
            if part is None and t in splits:
                keys += [(t, q, axis) for q in splits[t].parts]
            elif part is not None:
                keys.append((t, None, axis))
            if any(k in bound for k in keys):
                raise ValueError(f"graph: axis {axis} of {t!r} (part {part!r}) bound twice")
            bound.add((t, part, axis))
            bindings.append(Binding(t, axis, role, part, ignore))
        points.append(Point(name, width, groups, site, bindings))
    return Graph(points, splits)


def _shape(t):
    return tuple(t.shape)


def check_graph(graph, models):
    """Check the graph against N models: every bound tensor exists in every
    model with the same shape, split axes divide into their parts, bound axes
    exist and have the point's width.  Raises ValueError."""
    if len(models) < 2:
        raise ValueError("need at least 2 models")
    for name, t in models[0].items():
        for i, m in enumerate(models[1:], 1):
            if name not in m or _shape(m[name]) != _shape(t):
                raise ValueError(f"model {i}: tensor {name!r} missing or of another shape")
    for sp in graph.splits.values():
        if sp.tensor not in models[0]:
            raise ValueError(f"split tensor {sp.tensor!r} not in the models")
        sh = _shape(models[0][sp.tensor])
        if sp.axis >= len(sh) or sh[sp.axis] % len(sp.parts):
            raise ValueError(f"split tensor {sp.tensor!r}: axis {sp.axis} does not divide")
    for p in graph.points:
        for b in p.bindings:
            if b.tensor not in models[0]:
                raise ValueError(f"point {p.name!r}: tensor {b.tensor!r} not in the models")
            sh = list(_shape(models[0][b.tensor]))
            if b.part is not None:
                sp = graph.splits[b.tensor]
                sh[sp.axis] //= len(sp.parts)
            if b.axis >= len(sh) or sh[b.axis] != p.width:
                raise ValueError(f"point {p.name!r}: axis {b.axis} of {b.tensor!r} "
                                 f"(part {b.part!r}) is not of width {p.width}")


# ---------------------------------------------------------------------------
# Tensors
# ---------------------------------------------------------------------------

FLOAT_DTYPES = ("F16", "BF16", "F32", "F64")


def dtype_name(t):
    """safetensors dtype string of a tensor."""
    if isinstance(t, st.Raw):
        return t.dtype
    return st._native_name(np.asarray(t))


def is_float(t):
    """Float in the library's sense: F16, BF16, F32, F64 (F8 types are not)."""
    return dtype_name(t) in FLOAT_DTYPES


def as_f64(t):
    """A float tensor as float64 (exact)."""
    if isinstance(t, st.Raw):
        if t.dtype != "BF16":
            raise TypeError(f"{t.dtype} is not a float dtype the library computes with")
        return st.bf16_to_f32(t.bits).astype(np.float64)
    t = np.asarray(t)
    if t.dtype.kind != "f":
        raise TypeError(f"{t.dtype} is not a float dtype")
    return t.astype(np.float64)


def round_to_format(x, p, emin, largest):
    """float64 values rounded once, to nearest even, to a binary format with p
    significant bits, smallest normal exponent emin and largest finite value
    `largest` (larger results are inf): the values, still as float64 (exact).
    Written from the definition: scale so the format's unit in the last place
    is 1, round half to even (np.rint), scale back; powers of two are exact."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        _, e = np.frexp(x)                      # |x| = m * 2^e, 0.5 <= m < 1
        ulp_exp = np.maximum(e, emin + 1) - p   # subnormals share emin's ulp
        r = np.ldexp(np.rint(np.ldexp(x, -ulp_exp)), ulp_exp)
        r = np.where(np.abs(r) > largest, np.copysign(np.inf, x), r)
    return np.where(np.isfinite(x), r, x)


def from_f64(x, dtype):
    """Store float64 values as `dtype`, each rounded once to nearest even (as
    docs/algorithm.md section 11.4 promises): F64 as is, F32, F16 and BF16 from
    round_to_format (F32 by NumPy's cast, which rounds once)."""
    x = np.asarray(x, dtype=np.float64)
    if dtype == "F64":
        return x.copy()
    if dtype == "F32":
        return x.astype(np.float32)
    if dtype == "F16":
        return round_to_format(x, 11, -14, 65504.0).astype(np.float16)
    if dtype == "BF16":
        exact = round_to_format(x, 8, -126, float.fromhex("0x1.fep127"))
        return st.Raw("BF16", st.f32_to_bf16(exact.astype(np.float32)))
    raise TypeError(f"cannot store float64 as {dtype}")


def _contract(T, axis, X):
    """T'[..., j, ...] = sum_u T[..., u, ...] X[u, j] along `axis` (algorithm.md §4.2)."""
    if T.shape[axis] != X.shape[0]:
        raise ValueError(f"axis {axis} of length {T.shape[axis]} vs matrix {X.shape}")
    return np.moveaxis(np.tensordot(T, X, axes=([axis], [0])), -1, axis)


def _view(graph, tensors, name, part, mat):
    """Tensor `name` (or its `part`) of one model as float64, with every bound
    axis contracted with mat(point_index, binding) (skipped when that returns
    None).  A whole split tensor is cut into its parts, each part transformed
    by its own bindings, and the parts are concatenated back; bindings of the
    whole tensor (on other axes) apply to the whole and to every part."""
    base = as_f64(tensors[name])
    whole = graph.bindings_of(name, None)
    if part is not None:
        T = graph.cut(base, name, part)
        todo = graph.bindings_of(name, part) + whole
    else:
        T = base
        if name in graph.splits:
            sp = graph.splits[name]
            pieces = []
            for q in sp.parts:
                piece = graph.cut(base, name, q)
                for k, b in graph.bindings_of(name, q):
                    X = mat(k, b)
                    if X is not None:
                        piece = _contract(piece, b.axis, X)
                pieces.append(piece)
            T = np.concatenate(pieces, axis=sp.axis)
        todo = whole
    for k, b in todo:
        X = mat(k, b)
        if X is not None:
            T = _contract(T, b.axis, X)
    return T


# ---------------------------------------------------------------------------
# Similarities (algorithm.md §3)
# ---------------------------------------------------------------------------

def similarity(Z, kind="pearson", eps=1e-7):
    """Similarity between the ROWS of Z (V variables x D observations), in
    float64.

    pearson: mu = row means, Sigma = (Z-mu)(Z-mu)'/D (centred, stable),
             sigma = sqrt(max(diag Sigma, 0)), S = Sigma / max(sigma sigma', eps).
    cosine:  S = Z Z' / max(|z_a| |z_b|, eps).
    The result is made exactly symmetric (upper triangle mirrored), as a
    symmetric rank-k product would give, so zip's tie rule is well defined."""
    Z = np.asarray(Z, dtype=np.float64)
    if Z.ndim != 2 or Z.shape[1] < 1:
        raise ValueError(f"similarity: need V x D with D >= 1, got {Z.shape}")
    if not np.all(np.isfinite(Z)):
        raise ValueError("similarity: non-finite input")
    if kind == "pearson":
        Zc = Z - Z.mean(axis=1, keepdims=True)
        Sigma = Zc @ Zc.T / Z.shape[1]
        sigma = np.sqrt(np.maximum(np.diag(Sigma), 0.0))
        S = Sigma / np.maximum(np.outer(sigma, sigma), eps)
    elif kind == "cosine":
        norm = np.sqrt(np.sum(Z * Z, axis=1))
        S = (Z @ Z.T) / np.maximum(np.outer(norm, norm), eps)
    else:
        raise ValueError(f"similarity: unknown kind {kind!r}")
    upper = np.triu(S)
    return upper + np.triu(S, 1).T


def activation_similarity(xs, kind="pearson", eps=1e-7):
    """S_a (NC x NC) from per-model features xs = [X_0, ..., X_{N-1}], each
    n x C (same n observations, same order).  Z = [X_0 ... X_{N-1}] (n x NC);
    its columns are the variables."""
    Z = np.hstack([np.asarray(x, dtype=np.float64) for x in xs])
    return similarity(Z.T, kind, eps)


# ---------------------------------------------------------------------------
# Correspondences (algorithm.md §6)
# ---------------------------------------------------------------------------

@dataclass
class Correspondence:
    """P[u] = merged unit of stacked unit u (length N*C), Cp = C'; pairs =
    (k, 2) stacked-index pairs that define the score."""
    P: np.ndarray
    Cp: int
    N: int
    C: int
    pairs: np.ndarray

    def matrix(self):
        """The NC x C' 0/1 matrix."""
        out = np.zeros((self.N * self.C, self.Cp))
        out[np.arange(self.N * self.C), self.P] = 1.0
        return out

    def block(self, i):
        """P_i, model i's C x C' block."""
        return self.matrix()[i * self.C:(i + 1) * self.C]

    def counts(self):
        """m (N x C'): m[i, j] = number of model i's units in merged unit j."""
        return self.matrix().reshape(self.N, self.C, self.Cp).sum(axis=1)

    def merge(self, i):
        """M_i: P_i with every non-empty column divided by m_ij."""
        Pi = self.block(i)
        m = Pi.sum(axis=0)
        return Pi / np.where(m > 0, m, 1.0)

    def unmerge(self, i):
        """U_i = P_i."""
        return self.block(i)

    def merge_hat(self, i, weights):
        """Mhat_i (algorithm.md §6): P_i with column j scaled by
        W / sum_k w_k m_kj, W = sum_k w_k."""
        w = [float(x) for x in weights]
        m = self.counts()
        # Both sums run over k = 0..N-1 in order, so that when every m_kj = 1
        # (align) they are the same floating-point sum and the scale is
        # exactly 1: the transform stays an exact permutation.
        W = 0.0
        denom = np.zeros(self.Cp)
        for k in range(self.N):
            W += w[k]
            denom = denom + w[k] * m[k]
        if np.any(denom == 0):
            raise ValueError("merge_hat: a merged unit has zero total weight")
        return self.block(i) * (W / denom)

    def perm(self, i):
        """For a permutation: perm[j] = unit of model i in merged unit j."""
        out = np.empty(self.Cp, dtype=np.int64)
        out[self.P[i * self.C:(i + 1) * self.C]] = np.arange(self.C)
        return out


def _mean(values):
    """Left-to-right sum divided by the count, as a plain C loop computes a
    mean (NumPy's pairwise np.mean may differ in the last bits, and these
    means feed discrete decisions: the G x G block LAP, the best sweep)."""
    total = 0.0
    values = [float(v) for v in values]
    for v in values:
        total += v
    return total / len(values) if values else float("nan")


def score(S, corr):
    """Mean of S over the correspondence's scored pairs, in pair order (NaN
    if none)."""
    return _mean(S[corr.pairs[:, 0], corr.pairs[:, 1]])


# ---------------------------------------------------------------------------
# Matchers (algorithm.md §7, §8, §9)
# ---------------------------------------------------------------------------

def lap_max(S):
    """perm maximising sum_j S[j, perm[j]] for a square S (SciPy's LAP).
    Ties between optimal assignments: whatever SciPy returns (the contract
    only fixes the optimum, see the report)."""
    S = np.asarray(S, dtype=np.float64)
    if S.ndim != 2 or S.shape[0] != S.shape[1]:
        raise ValueError(f"lap_max: need a square matrix, got {S.shape}")
    rows, cols = linear_sum_assignment(S, maximize=True)
    perm = np.empty(S.shape[0], dtype=np.int64)
    perm[rows] = cols
    return perm


def _check_S(S, N, C):
    S = np.asarray(S, dtype=np.float64)
    if S.shape != (N * C, N * C):
        raise ValueError(f"S must be {N * C} x {N * C}, got {S.shape}")
    if np.any(np.isnan(S)):
        raise ValueError("S contains NaN")
    return S


def _from_perms(perms, N, C, S):
    """Align correspondence from perm_i (i >= 1): P_0 = identity,
    P_i[perm_i[j], j] = 1; pairs (j, i*C + perm_i[j]) ordered by i, j."""
    P = np.empty(N * C, dtype=np.int64)
    P[:C] = np.arange(C)
    pairs = []
    for i, perm in enumerate(perms, 1):
        P[i * C + perm] = np.arange(C)
        pairs += [(j, i * C + perm[j]) for j in range(C)]
    return Correspondence(P, C, N, C, np.array(pairs, dtype=np.int64).reshape(-1, 2))


def align(S, N, C):
    """Align (algorithm.md §8): for each model i >= 1, perm_i = LAP maximising
    sum_j S[j, i*C + perm_i[j]].  C' = C, merged unit j = anchor unit j."""
    S = _check_S(S, N, C)
    perms = [lap_max(S[:C, i * C:(i + 1) * C]) for i in range(1, N)]
    return _from_perms(perms, N, C, S)


def _block_assignment(S, N, C, G):
    """For each model i >= 1: inner Cg x Cg LAPs on every block pair (g, h) of
    S[anchor block g, model-i block h], scored by their mean matched
    similarity, then a G x G LAP on the scores.  Returns [(bperm, inner)]
    with bperm[g] = model-i block matched to anchor block g and
    inner[g][h] = the inner assignment of pair (g, h)."""
    Cg = C // G
    out = []
    for i in range(1, N):
        scores = np.empty((G, G))
        inner = [[None] * G for _ in range(G)]
        for g in range(G):
            for h in range(G):
                blk = S[g * Cg:(g + 1) * Cg, i * C + h * Cg:i * C + (h + 1) * Cg]
                q = lap_max(blk)
                inner[g][h] = q
                scores[g, h] = _mean(blk[np.arange(Cg), q])
        out.append((lap_max(scores), inner))
    return out


def group_align(S, N, C, G):
    """Group align (algorithm.md §8): blocks assigned by a G x G LAP on inner-LAP
    scores; perm_i[g*Cg + k] = bperm[g]*Cg + inner[g][bperm[g]][k]."""
    S = _check_S(S, N, C)
    if G < 1 or C % G:
        raise ValueError(f"groups {G} must divide width {C}")
    Cg = C // G
    perms = []
    for bperm, inner in _block_assignment(S, N, C, G):
        perms.append(np.concatenate([bperm[g] * Cg + inner[g][bperm[g]] for g in range(G)]))
    return _from_perms(perms, N, C, S)


def zip_width(NC, r):
    """C' = floor(N*C*(1-r)), evaluated as floor(double(NC) * (1.0 - r))."""
    return int(math.floor(float(NC) * (1.0 - r)))


def zip_budget(NC, Cp, N, b):
    """B = floor(floor((NC - C') / N) * b)."""
    return int(math.floor(((NC - Cp) // N) * b))


def zip_match(S, N, C, r=0.5, a=0.5, b=1.0):
    """Zip (algorithm.md §9.2) on a symmetric NC x NC S.

    W = S with diagonal -inf.  Rows/columns of clusters that left the active
    set are kept at -inf, so "the first maximum of W in row-major order over
    active rows and columns" is simply argmax(W) (NumPy returns the first
    occurrence).  Each step:
      1. (x, y) = first maximum; -inf -> MudscNumericError;
      2. model(x) == model(y): that model spends one unit of budget; when its
         budget is spent (<= 0) every entry between two active
         representatives of that model becomes -inf;
      3. y joins x; row x = min(row x, row y); a > 0: row x *= a, else row x
         is -inf at every active representative of model(x) or model(y);
         column x mirrors row x; W[x, x] = -inf; y leaves the active set.
    Merged units are numbered by their representative (its smallest member).
    pairs = the (x, y) of every step, scored on the unmodified S."""
    S = _check_S(S, N, C)
    if not np.array_equal(S, S.T):
        raise ValueError("zip: S must be exactly symmetric")
    NC = N * C
    Cp = zip_width(NC, r)
    if not 1 <= Cp < NC:
        # C' = NC would mean no merge at all and an undefined (empty) score.
        raise ValueError(f"zip: r={r} gives output width {Cp}, outside [1, {NC - 1}]")
    budget = [zip_budget(NC, Cp, N, b)] * N
    model = np.arange(NC) // C
    active = np.ones(NC, dtype=bool)
    owner = np.arange(NC)               # representative of each unit's cluster
    W = S.copy()
    np.fill_diagonal(W, -np.inf)
    pairs = []
    clusters = NC
    while clusters > Cp:
        flat = int(np.argmax(W))
        x, y = divmod(flat, NC)
        if W[x, y] == -np.inf:
            raise MudscNumericError(f"zip: no admissible merge left with {clusters} clusters "
                                    f"(target {Cp})")
        assert x < y, "symmetric W puts the first maximum above the diagonal"
        pairs.append((x, y))
        mx, my = model[x], model[y]
        if mx == my:
            budget[mx] -= 1
            if budget[mx] <= 0:
                same = active & (model == mx)
                W[np.ix_(same, same)] = -np.inf
        owner[owner == y] = x
        row = np.minimum(W[x], W[y])
        if a > 0:
            row = row * a
        else:
            row[active & ((model == mx) | (model == my))] = -np.inf
        W[x, :] = row
        W[:, x] = row
        W[x, x] = -np.inf
        active[y] = False
        W[y, :] = -np.inf
        W[:, y] = -np.inf
        clusters -= 1
    reps = np.flatnonzero(active)       # ascending = smallest member first
    number = np.full(NC, -1, dtype=np.int64)
    number[reps] = np.arange(len(reps))
    P = number[owner]
    return Correspondence(P, Cp, N, C, np.array(pairs, dtype=np.int64).reshape(-1, 2))


zip = zip_match  # the brief's name; shadows the builtin inside this module only


def group_zip(S, N, C, G, r=0.5, a=0.5, b=1.0):
    """Group zip (algorithm.md §9.3): blocks assigned as in group align; bundle g =
    anchor block g + its matched block of every model (N*Cg units in stacked
    order), zipped alone to C'g = floor(N*Cg*(1-r)) units with budget
    floor(floor((N*Cg - C'g)/N) * b); merged unit = g*C'g + unit within the
    bundle.  pairs are mapped back to stacked indices (bundle by bundle)."""
    S = _check_S(S, N, C)
    if G < 1 or C % G:
        raise ValueError(f"groups {G} must divide width {C}")
    Cg = C // G
    bperms = [bp for bp, _ in _block_assignment(S, N, C, G)]
    Cgp = zip_width(N * Cg, r)
    P = np.full(N * C, -1, dtype=np.int64)
    pairs = []
    for g in range(G):
        blocks = [g] + [int(bp[g]) for bp in bperms]
        idx = np.concatenate([i * C + h * Cg + np.arange(Cg) for i, h in enumerate(blocks)])
        sub = zip_match(S[np.ix_(idx, idx)], N, Cg, r, a, b)
        P[idx] = g * Cgp + sub.P
        pairs.append(idx[sub.pairs])
    return Correspondence(P, G * Cgp, N, C, np.concatenate(pairs).reshape(-1, 2))


def match(S, N, C, G=1, method="align", r=0.5, a=0.5, b=1.0):
    """Dispatch: align / group_align (G > 1) / zip / group_zip (G > 1)."""
    if method == "align":
        return align(S, N, C) if G == 1 else group_align(S, N, C, G)
    if method == "zip":
        return zip_match(S, N, C, r, a, b) if G == 1 else group_zip(S, N, C, G, r, a, b)
    raise ValueError(f"unknown method {method!r}")


# ---------------------------------------------------------------------------
# Weight features and S_w (algorithm.md §4)
# ---------------------------------------------------------------------------

def weight_features(graph, models, point, corr):
    """[F_0, ..., F_{N-1}], F_i = C x D weight features of `point` for model i.

    For each non-ignored binding of the point, in binding order: model i's
    tensor (or part), every OTHER bound axis whose point q != point has a
    correspondence in `corr` (dict name -> Correspondence; missing/None = not
    yet matched) contracted with M_i(q) on an IN axis, U_i(q) on an OUT axis
    (a whole split tensor is cut, transformed part by part, re-joined); then
    the bound axis moved to the front and flattened (C order) to C rows.
    Blocks are concatenated column-wise."""
    p = graph.index(point)
    pt = graph.points[p]
    corr = corr or {}
    out = []
    for i, tensors in enumerate(models):
        def mat(k, b, i=i):
            c = corr.get(graph.points[k].name)
            if k == p or c is None:
                return None
            return c.merge(i) if b.role == "in" else c.unmerge(i)

        blocks = []
        for b in pt.bindings:
            if b.ignore:
                continue
            V = _view(graph, tensors, b.tensor, b.part, mat)
            if V.shape[b.axis] != pt.width:
                raise ValueError(f"point {pt.name!r}: axis {b.axis} of {b.tensor!r} has "
                                 f"length {V.shape[b.axis]}, width is {pt.width}")
            blocks.append(np.moveaxis(V, b.axis, 0).reshape(pt.width, -1))
        if not blocks:
            raise ValueError(f"point {pt.name!r} has no non-ignored binding")
        out.append(np.concatenate(blocks, axis=1))
    return out


def weight_similarity(graph, models, point, corr, kind="pearson", eps=1e-7):
    """S_w (NC x NC) = similarity of the rows of [F_0; ...; F_{N-1}]."""
    return similarity(np.vstack(weight_features(graph, models, point, corr)), kind, eps)


# ---------------------------------------------------------------------------
# Random order (algorithm.md §10.2)
# ---------------------------------------------------------------------------

class SplitMix64:
    """splitmix64 (Steele, Lea, Flood 2014; Vigna's reference splitmix64.c)."""

    MASK = (1 << 64) - 1

    def __init__(self, seed):
        self.state = int(seed) & self.MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & self.MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & self.MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & self.MASK
        return z ^ (z >> 31)


def shuffled_order(rng, P):
    """[0..P-1] shuffled by Fisher-Yates: for k = P-1 down to 1,
    j = rng.next() mod (k+1), swap order[k] and order[j]."""
    order = list(range(P))
    for k in range(P - 1, 0, -1):
        j = rng.next() % (k + 1)
        order[k], order[j] = order[j], order[k]
    return order


# ---------------------------------------------------------------------------
# The MuDSC loop (algorithm.md §10)
# ---------------------------------------------------------------------------

@dataclass
class MudscResult:
    """corr: point name -> Correspondence (the kept set);
    scores: point name -> (S_w score, S_a score, S score) as recorded when
    the point was matched in the kept sweep (NaN where that similarity was
    not computed); objectives: objective of every sweep; sweeps = number of
    sweeps run; best_sweep = index of the kept sweep (-1: initialisation kept,
    i.e. alpha = 0)."""
    corr: dict
    scores: dict
    objectives: list = field(default_factory=list)
    sweeps: int = 0
    best_sweep: int = -1


def mudsc(graph, models, activations=None, method="align", alpha=0.5, r=0.5, a=0.5,
          b=1.0, use_groups=True, max_iter=100, patience=5, seed=0, kind="pearson",
          sweep_order="random"):
    """Run MuDSC (algorithm.md §10).

    activations: None (weight matching only; alpha is taken as 1) or a dict
    point (name or index) -> S_a (NC x NC), one for every point (a dict
    whose values are all None counts as None; a partial one is an error).
    - With activations every point is first matched from S_a alone (point
      order 0..P-1); alpha = 0 stops there (0 sweeps).
    - Each sweep (alpha > 0) visits the points in the order given by
      shuffled_order(rng, P) with one SplitMix64(seed) for the whole run;
      with sweep_order="graph_first" the first sweep visits 0..P-1 instead
      (its shuffled order is still drawn, so the later sweeps visit the
      same orders as with "random");
      for each point S_w is recomputed with the current correspondences of
      the other points, S = alpha*S_w + (1-alpha)*S_a (S = S_w without
      activations), the point is re-matched and its scores recorded.
      Objective = mean of the recorded S scores.  The next sweep continues
      from the current correspondences.
    - The first sweep with the largest objective is kept; stop after
      `patience` consecutive sweeps not strictly better than the best, or
      after max_iter sweeps."""
    N = len(models)
    check_graph(graph, models)
    npts = len(graph.points)
    # alpha: one value, or one per point in graph order (algorithm.md §24)
    alphas = [float(v) for v in alpha] if np.ndim(alpha) else [float(alpha)] * npts
    if len(alphas) != npts or not all(0.0 <= v <= 1.0 for v in alphas):
        raise ValueError(f"alpha {alpha} outside [0, 1] or not one per point")
    names = [p.name for p in graph.points]
    sa = None
    given = {k: v for k, v in (activations or {}).items() if v is not None}
    if given:
        sa = {}
        for key, val in given.items():
            sa[names[graph.index(key)]] = np.asarray(val, dtype=np.float64)
        for p in graph.points:
            if p.name not in sa:
                raise ValueError(f"activations given but none for point {p.name!r}")
            if sa[p.name].shape != (N * p.width, N * p.width):
                raise ValueError(f"S_a of {p.name!r} has shape {sa[p.name].shape}")
    else:
        alphas = [1.0] * npts

    def matcher(S, p):
        G = p.groups if use_groups else 1
        return match(S, N, p.width, G, method, r, a, b)

    corr, scores = {}, {}
    if sa is not None:
        for p in graph.points:
            c = matcher(sa[p.name], p)
            corr[p.name] = c
            s = score(sa[p.name], c)
            scores[p.name] = (float("nan"), s, s)
    result = MudscResult(dict(corr), dict(scores))
    if all(v == 0.0 for v in alphas) or npts == 0:
        return result
    rng = SplitMix64(seed)
    best = -math.inf
    since_best = 0
    for sweep in range(max_iter):
        sweep_scores = {}
        order = shuffled_order(rng, npts)
        if sweep == 0 and sweep_order == "graph_first":
            order = list(range(npts))
        elif sweep_order not in ("random", "graph_first"):
            raise ValueError(f"sweep_order {sweep_order!r}")
        for k in order:
            p = graph.points[k]
            Sw = weight_similarity(graph, models, k, corr, kind)
            S = Sw if sa is None else alphas[k] * Sw + (1.0 - alphas[k]) * sa[p.name]
            c = matcher(S, p)
            corr[p.name] = c
            sweep_scores[p.name] = (score(Sw, c),
                                    float("nan") if sa is None else score(sa[p.name], c),
                                    score(S, c))
        objective = _mean([sweep_scores[n][2] for n in names])   # in point order
        result.objectives.append(objective)
        result.sweeps = sweep + 1
        if objective > best:
            best = objective
            since_best = 0
            result.corr = dict(corr)
            result.scores = dict(sweep_scores)
            result.best_sweep = sweep
        else:
            since_best += 1
            if since_best >= patience:
                break
    return result


# ---------------------------------------------------------------------------
# Merged tensors (algorithm.md §11)
# ---------------------------------------------------------------------------

def _weights(N, weights):
    if weights is None:
        return np.full(N, 1.0 / N)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (N,):
        raise ValueError(f"need {N} weights, got {w.shape}")
    return w


def transformed_tensors(graph, models, corr, i, weights=None):
    """T_i' for every tensor of model i, float64 (algorithm.md §11.2): every bound
    axis contracted with Mhat_i (OUT) or U_i (IN) of its point; split tensors
    part by part.  Unbound tensors are returned unchanged (float ones as
    float64, others as they are).  corr must hold every point."""
    N = len(models)
    w = _weights(N, weights)
    for p in graph.points:
        if corr.get(p.name) is None:
            raise ValueError(f"no correspondence for point {p.name!r}")

    def mat(k, b):
        c = corr[graph.points[k].name]
        return c.merge_hat(i, w) if b.role == "out" else c.unmerge(i)

    out = {}
    for name, t in models[i].items():
        if graph.is_bound(name):
            if not is_float(t):
                raise TypeError(f"bound tensor {name!r} has non-float dtype {dtype_name(t)}")
            out[name] = _view(graph, models[i], name, None, mat)
        else:
            out[name] = as_f64(t) if is_float(t) else t
    return out


def unbound_tensors(graph, model):
    """Names of the tensors bound to no point (merged by plain averaging)."""
    return [name for name in model if not graph.is_bound(name)]


def permute_only(graph, models, corr, i):
    """Model i brought into the merged order (the "permute only" transform):
    T_i' of transformed_tensors stored back in each tensor's dtype.  For align
    this is exact: model i in model 0's unit order."""
    out = {}
    for name, t in transformed_tensors(graph, models, corr, i).items():
        src = models[i][name]
        out[name] = from_f64(t, dtype_name(src)) if is_float(src) else t
    return out


def merged_tensors(graph, models, corr, weights=None, cast=True):
    """Merged model (algorithm.md §11): T = sum_i w_i T_i' in float64 (w_i = 1/N by
    default), for bound and unbound float tensors alike; non-float unbound
    tensors are model 0's.  cast=True stores floats in each tensor's dtype
    (from_f64), cast=False returns the float64 sums."""
    N = len(models)
    w = _weights(N, weights)
    check_graph(graph, models)
    per_model = [transformed_tensors(graph, models, corr, i, w) for i in range(N)]
    out = {}
    for name, t in models[0].items():
        if not is_float(t):
            out[name] = t
            continue
        acc = np.zeros_like(per_model[0][name])
        for i in range(N):
            acc = acc + w[i] * per_model[i][name]
        out[name] = from_f64(acc, dtype_name(t)) if cast else acc
    return out


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

def _pairs_arg(values, what):
    out = {}
    for v in values or []:
        if "=" not in v:
            raise SystemExit(f"{what} expects POINT=FILE, got {v!r}")
        k, path = v.split("=", 1)
        out[k] = np.load(path)
    return out


def _features_to_sa(feat, N, kind):
    feat = np.asarray(feat, dtype=np.float64)
    if feat.ndim == 3:
        if feat.shape[0] != N:
            raise SystemExit(f"features of shape {feat.shape}: first axis must be N={N}")
        return activation_similarity(list(feat), kind)
    if feat.ndim == 2:
        return similarity(feat.T, kind)
    raise SystemExit(f"features must be (N, n, C) or (n, N*C), got {feat.shape}")


def _storable(t):
    return t.bits if isinstance(t, st.Raw) else np.asarray(t)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Reference MuDSC (libmudsc test oracle)")
    ap.add_argument("--graph", required=True)
    ap.add_argument("--model", action="append", required=True)
    ap.add_argument("--acts", action="append", metavar="POINT=FILE.npy")
    ap.add_argument("--sa", action="append", metavar="POINT=FILE.npy")
    ap.add_argument("--method", choices=["align", "zip"], default="align")
    ap.add_argument("--alpha", type=float, default=0.5)
    ap.add_argument("--r", type=float, default=0.5)
    ap.add_argument("--a", type=float, default=0.5)
    ap.add_argument("--b", type=float, default=1.0)
    ap.add_argument("--no-groups", action="store_true")
    ap.add_argument("--max-iter", type=int, default=100)
    ap.add_argument("--patience", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--kind", choices=["pearson", "cosine"], default="pearson")
    ap.add_argument("--weights")
    ap.add_argument("--transformed", action="store_true")
    ap.add_argument("--out-model")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)

    graph = load_graph(args.graph)
    models = [st.read(path)[0] for path in args.model]
    N = len(models)
    acts = {k: _features_to_sa(v, N, args.kind) for k, v in _pairs_arg(args.acts, "--acts").items()}
    acts.update(_pairs_arg(args.sa, "--sa"))
    weights = None if args.weights is None else [float(x) for x in args.weights.split(",")]
    res = mudsc(graph, models, acts or None, args.method, args.alpha, args.r, args.a, args.b,
                not args.no_groups, args.max_iter, args.patience, args.seed, args.kind)
    merged64 = merged_tensors(graph, models, res.corr, weights, cast=False)
    merged = merged_tensors(graph, models, res.corr, weights, cast=True)

    names = [p.name for p in graph.points]
    out = {"points": np.array(names, dtype=str),
           "scores": np.array([res.scores[n] for n in names], dtype=np.float64).reshape(-1, 3),
           "objectives": np.array(res.objectives, dtype=np.float64),
           "sweeps": np.int64(res.sweeps), "best_sweep": np.int64(res.best_sweep)}
    for n in names:
        c = res.corr[n]
        out[f"P/{n}"] = c.P
        out[f"Cp/{n}"] = np.int64(c.Cp)
        out[f"pairs/{n}"] = c.pairs
    for name, t in merged.items():
        out[f"merged/{name}"] = _storable(t)
        out[f"dtype/{name}"] = np.array(dtype_name(models[0][name]))
        if is_float(models[0][name]):
            out[f"merged_f64/{name}"] = merged64[name]
    if args.transformed:
        for i in range(N):
            for name, t in transformed_tensors(graph, models, res.corr, i, weights).items():
                if is_float(models[i][name]):
                    out[f"transformed/{i}/{name}"] = t
    np.savez(args.out, **out)
    if args.out_model:
        st.write(args.out_model, merged)
    return 0


if __name__ == "__main__":
    sys.exit(main())
