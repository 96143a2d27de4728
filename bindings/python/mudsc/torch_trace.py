"""Graphs of PyTorch networks by tracing (torch.fx), and the check that a
graph keeps a network's function (docs/tracing.md).

trace_graph(model, example_inputs) runs the network once under a torch.fx
tracer that also computes every value (so shapes are concrete), and follows
the channels ("units") of every tensor through the traced operations: each
layer that makes new units (Linear, Conv, Embedding, ...) opens a *space*;
operations that must see the same order of units on two tensors (residual
additions, multiplicative gates, norms, learned scales and position
embeddings) join spaces; concatenations along the feature axis make a
layout of parts; flattening a C x H x W map into a Linear repeats each unit
H*W times.  Every space that reaches an operation not known to be
permutation-safe, the model's inputs or outputs, becomes a fixed boundary
(its units are never reordered) with the node, op and reason recorded in
graph.trace_report; with on_unknown="error" such an operation is refused
instead.  The spaces left are the merge points.

verify_graph(model, graph, example_inputs) permutes the model along the
graph with the library (mudsc_permute_model), runs both, and reports
whether the outputs agree, the first point whose permutation alone changes
them, and every float tensor no point binds.
"""
from __future__ import annotations

import copy
import math
import operator
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
import torch.fx
from torch import nn
from torch.fx.node import map_aggregate

from . import errors
from .graph import Graph

__all__ = ["trace_graph", "verify_graph", "TraceReport", "Boundary", "VerifyResult"]


# ---- a tracer whose values are concrete -------------------------------------

class _Proxy(torch.fx.Proxy):
    """A Proxy that knows its value: shapes, sizes and dims are plain
    numbers, so code such as `n, c, h, w = x.shape` traces."""

    def _value(self) -> Any:
        return self.node.meta.get("value")

    def __getattr__(self, k: str) -> Any:
        if k in ("shape", "dtype", "device", "ndim", "is_cuda", "is_sparse"):
            return getattr(self._value(), k)
        return super().__getattr__(k)

    def size(self, *args: Any) -> Any:
        return self._value().size(*args)

    def dim(self) -> int:
        return self._value().dim()

    def numel(self) -> int:
        return self._value().numel()

    def __len__(self) -> int:
        return len(self._value())

    def __iter__(self) -> Any:
        # the value's length is known: one getitem per element (torch.fx
        # guesses it from the caller's bytecode, which Python 3.11 changed)
        return iter([self[i] for i in range(len(self._value()))])

    def __bool__(self) -> bool:
        return bool(self._value())


class _Tracer(torch.fx.Tracer):
    def __init__(self, root: nn.Module, inputs: Sequence[Any]) -> None:
        super().__init__()
        self._root_module = root
        self._inputs = list(inputs)
        self._placeholders = 0
        self.calls: Dict[str, int] = {}

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return isinstance(m, nn.MultiheadAttention) or super().is_leaf_module(m, qualname)

    def proxy(self, node: torch.fx.Node) -> torch.fx.Proxy:
        return _Proxy(node, self)

    def create_proxy(self, kind: str, target: Any, args: Any, kwargs: Any, name: Any = None,
                     type_expr: Any = None, proxy_factory_fn: Any = None) -> torch.fx.Proxy:
        p = super().create_proxy(kind, target, args, kwargs, name, type_expr, proxy_factory_fn)
        p.node.meta["value"] = self._compute(kind, target, args, kwargs)
        return p

    def _compute(self, kind: str, target: Any, args: Any, kwargs: Any) -> Any:
        real = lambda a: a.node.meta.get("value") if isinstance(a, torch.fx.Proxy) else a
        args = map_aggregate(args, real)
        kwargs = map_aggregate(kwargs, real)
        with torch.no_grad():
            if kind == "placeholder":
                k = self._placeholders
                self._placeholders += 1
                return self._inputs[k] if k < len(self._inputs) else None
            if kind == "get_attr":
                return _fetch(self._root_module, target)
            if kind == "call_module":
                self.calls[target] = self.calls.get(target, 0) + 1
                return _unpatched_call(_fetch(self._root_module, target), args, kwargs)
            if kind == "call_method":
                return getattr(args[0], target)(*args[1:], **kwargs)
            if kind == "call_function":
                return target(*args, **kwargs)
        return None


def _unpatched_call(mod: nn.Module, args: Any, kwargs: Any) -> Any:
    """mod(*args, **kwargs) on real tensors, with nn.Module's own __call__ and
    __getattr__ (the tracer patches both while it traces)."""
    import torch.fx._symbolic_trace as st
    saved = nn.Module.__call__, nn.Module.__getattr__
    nn.Module.__call__, nn.Module.__getattr__ = st._orig_module_call, st._orig_module_getattr
    try:
        return mod(*args, **kwargs)
    finally:
        nn.Module.__call__, nn.Module.__getattr__ = saved


def _fetch(root: nn.Module, qualname: str) -> Any:
    """root's attribute qualname, read through the modules' own tables (the
    tracer patches nn.Module.__getattr__ while it traces)."""
    obj: Any = root
    for part in qualname.split("."):
        if isinstance(obj, nn.Module):
            d = obj.__dict__
            for table in ("_parameters", "_buffers", "_modules"):
                if part in d.get(table, {}):
                    obj = d[table][part]
                    break
            else:
                obj = object.__getattribute__(obj, part)
        else:
            obj = getattr(obj, part)
    return obj


# ---- spaces, layouts and annotations ------------------------------------------

@dataclass
class Boundary:
    """A space left out (never permuted): the traced node and op where it
    was fixed and why."""
    node: str
    op: str
    reason: str


@dataclass
class TraceReport:
    """What trace_graph decided: boundaries (spaces fixed, with the node and
    op), the time taken (seconds) and the number of traced nodes."""
    boundaries: List[Boundary] = field(default_factory=list)
    seconds: float = 0.0
    nodes: int = 0


class _Space:
    __slots__ = ("id", "width", "parent", "fixed", "blocks", "hint", "site")

    def __init__(self, sid: int, width: int, hint: str) -> None:
        self.id, self.width, self.parent, self.hint = sid, width, None, hint
        self.fixed: Optional[Boundary] = None
        self.blocks: set = set()   # group block sizes its permutations must keep
        self.site: Optional[Tuple[str, int]] = None


# A layout: the units along one tensor axis, as segments (space or None, width, repeat).
Seg = Tuple[Optional[int], int, int]


class _Refuse(Exception):
    pass


class _State:
    def __init__(self, root: nn.Module, on_unknown: str) -> None:
        self.root = root
        self.on_unknown = on_unknown
        self.spaces: List[_Space] = []
        self.report = TraceReport()
        # (param, axis) -> (layout, role, ignore)
        self.binds: Dict[Tuple[str, int], Tuple[Tuple[Seg, ...], str, bool]] = {}
        self.qkv: Dict[str, int] = {}       # param -> axis split into q, k, v
        self.frozen: Dict[str, Boundary] = {}  # params an unknown op read
        self.node: Optional[torch.fx.Node] = None

    # union-find
    def find(self, s: int) -> _Space:
        sp = self.spaces[s]
        while sp.parent is not None:
            sp = self.spaces[sp.parent]
        return sp

    def new(self, width: int, hint: str) -> int:
        self.spaces.append(_Space(len(self.spaces), int(width), hint))
        return len(self.spaces) - 1

    def here(self, reason: str) -> Boundary:
        n = self.node
        return Boundary(n.name if n is not None else "", _op_name(n) if n is not None else "",
                        reason)

    def fix(self, s: Optional[int], reason: str) -> None:
        if s is None:
            return
        sp = self.find(s)
        if sp.fixed is None:
            sp.fixed = self.here(reason)
            self.report.boundaries.append(sp.fixed)

    def fix_layout(self, lay: Tuple[Seg, ...], reason: str) -> None:
        for s, _, _ in lay:
            self.fix(s, reason)

    def unite(self, a: Optional[int], b: Optional[int]) -> None:
        if a is None and b is None:
            return
        if a is None or b is None:
            self.fix(a if b is None else b, "joined with units that are not permuted")
            return
        ra, rb = self.find(a), self.find(b)
        if ra is rb:
            return
        if ra.width != rb.width:
            self.fix(a, f"joined with a space of width {rb.width}, not {ra.width}")
            self.fix(b, f"joined with a space of width {ra.width}, not {rb.width}")
            return
        if rb.id < ra.id:
            ra, rb = rb, ra
        rb.parent = ra.id
        ra.blocks |= rb.blocks
        if ra.fixed is None and rb.fixed is not None:
            ra.fixed = rb.fixed
        if ra.site is None:
            ra.site = rb.site

    def unite_layouts(self, a: Tuple[Seg, ...], b: Tuple[Seg, ...]) -> None:
        if [(w, r) for _, w, r in a] != [(w, r) for _, w, r in b]:
            self.fix_layout(a, "joined with a differently concatenated axis")
            self.fix_layout(b, "joined with a differently concatenated axis")
            return
        for (sa, _, _), (sb, _, _) in zip(a, b):
            self.unite(sa, sb)

    def bind(self, param: str, axis: int, lay: Tuple[Seg, ...], role: str,
             ignore: bool = False) -> None:
        key = (param, axis)
        if key in self.binds:
            old = self.binds[key]
            self.unite_layouts(old[0], lay)
            return
        self.binds[key] = (lay, role, ignore)


def _op_name(n: torch.fx.Node) -> str:
    t = n.target
    if n.op == "call_module":
        return f"call_module {t}"
    name = t if isinstance(t, str) else getattr(t, "__name__", str(t))
    return f"{n.op} {name}"


# An annotation of a value: {dim: descriptor}, descriptors
#   ("L", layout)  the dim holds these units
#   ("G", space, G) the group index of a space split into G groups (never moved)
#   ("W", space, G) the unit index inside a group
#   ("P", n)        a part selector (q, k, v of a fused projection; never moved)
# or ("tuple", [annotations]) for tuple values.  Parameters carry ("param", name, {dim: axis}).

def _lay1(s: int, w: int) -> Tuple[Seg, ...]:
    return ((s, int(w), 1),)


def _width(lay: Tuple[Seg, ...]) -> int:
    return sum(w * r for _, w, r in lay)


class _Analysis:
    def __init__(self, st: _State, graph: torch.fx.Graph, calls: Dict[str, int]) -> None:
        self.st = st
        self.graph = graph
        self.calls = calls
        self.ann: Dict[torch.fx.Node, Any] = {}
        self.psrc: Dict[torch.fx.Node, Tuple[str, Dict[int, int]]] = {}
        self.names = set(k for k, _ in st.root.state_dict().items())

    # -- helpers ---------------------------------------------------------
    def value(self, a: Any) -> Any:
        if isinstance(a, torch.fx.Node):
            if "value" not in a.meta and a.op == "get_attr":
                a.meta["value"] = _fetch(self.st.root, a.target)
            return a.meta.get("value")
        return a

    def a(self, x: Any) -> Dict[int, Any]:
        if isinstance(x, torch.fx.Node):
            v = self.ann.get(x)
            return v if isinstance(v, dict) else {}
        return {}

    def ndim(self, x: Any) -> int:
        v = self.value(x)
        return v.dim() if isinstance(v, torch.Tensor) else 0

    def spaces_in(self, x: Any) -> List[int]:
        out: List[int] = []
        def walk(v: Any) -> None:
            if isinstance(v, dict):
                for d in v.values():
                    if d[0] == "L":
                        out.extend(s for s, _, _ in d[1] if s is not None)
                    elif d[0] in ("G", "W"):
                        out.append(d[1])
            elif isinstance(v, tuple) and v and v[0] == "tuple":
                for e in v[1]:
                    walk(e)
        def visit(n: Any) -> Any:
            if isinstance(n, torch.fx.Node):
                walk(self.ann.get(n))
            return n
        map_aggregate(x, visit)
        return out

    def boundary(self, n: torch.fx.Node, reason: str) -> None:
        """An operation not known to keep permutations: refuse, or fix every
        space reaching it (and the parameters it reads) and give no units."""
        moved = self.spaces_in((n.args, n.kwargs))
        live = [s for s in moved if self.st.find(s).fixed is None]
        params = []
        def visit(x: Any) -> Any:
            if isinstance(x, torch.fx.Node) and x in self.psrc:
                params.append(self.psrc[x][0])
            return x
        map_aggregate((n.args, n.kwargs), visit)
        if n.op == "call_module":
            mod = self.st.root.get_submodule(n.target)
            params += [f"{n.target}.{k}" for k, _ in mod.named_parameters()]
            params += [f"{n.target}.{k}" for k, _ in mod.named_buffers()]
        if self.st.on_unknown == "error" and (live or params):
            raise errors.UnsupportedError.make(
                f"trace_graph: node '{n.name}' ({_op_name(n)}): {reason}")
        for s in moved:
            self.st.fix(s, reason)
        for p in params:
            self.st.frozen.setdefault(p, self.st.here(reason))
        self.ann[n] = {}

    def param_of(self, x: Any) -> Optional[str]:
        """The state_dict name of a get_attr node (a parameter or buffer), or None."""
        if isinstance(x, torch.fx.Node) and x in self.psrc:
            name, dims = self.psrc[x]
            v = self.value(x)
            if isinstance(v, torch.Tensor) and all(dims.get(d) == d for d in range(v.dim())):
                return name
        return None

    def site(self, n: torch.fx.Node, x: Any) -> None:
        """n (a Linear or Conv module call) consumes x: x's single space
        gets its site there, if it has none yet."""
        if n.op != "call_module" or self.calls.get(n.target, 0) != 1:
            return
        ann = self.a(x)
        if len(ann) != 1:
            return
        (d, desc), = ann.items()
        if desc[0] != "L" or len(desc[1]) != 1 or desc[1][0][2] != 1 or desc[1][0][0] is None:
            return
        sp = self.st.find(desc[1][0][0])
        if sp.site is None:
            nd = self.ndim(x)
            sp.site = (f"{n.target}:input", -1 if d == nd - 1 else d)

    # meeting a dim of one operand with the aligned dim of another
    def meet(self, desc: Any, other: Any, odim: Optional[int]) -> Any:
        if odim is None:
            return desc
        oann = self.a(other)
        od = oann.get(odim)
        if od is not None:
            if desc is None:
                return od
            if desc[0] == "L" and od[0] == "L":
                self.st.unite_layouts(desc[1], od[1])
            elif desc[0] == od[0] and desc[0] in ("G", "W") and desc[2] == od[2]:
                self.st.unite(desc[1], od[1])
            elif desc[0] == od[0] == "P":
                pass
            else:
                self.fix_desc(desc, "joined with a differently structured axis")
                self.fix_desc(od, "joined with a differently structured axis")
            return desc
        if desc is None:
            return None
        v = self.value(other)
        size = v.shape[odim] if isinstance(v, torch.Tensor) else 1
        if size == 1 or desc[0] in ("G", "P"):
            return desc
        if isinstance(other, torch.fx.Node) and other in self.psrc and desc[0] == "L":
            name, dims = self.psrc[other]
            if odim in dims:
                self.st.bind(name, dims[odim], desc[1], "out")
                return desc
        self.fix_desc(desc, "combined with a tensor whose units are not permuted")
        return None

    def fix_desc(self, desc: Any, reason: str) -> None:
        if desc is None:
            return
        if desc[0] == "L":
            self.st.fix_layout(desc[1], reason)
        elif desc[0] in ("G", "W"):
            self.st.fix(desc[1], reason)

    def meet_all(self, pairs: Sequence[Tuple[Any, int]]) -> Any:
        """The descriptor of operands' aligned dims (operand, dim): the first
        one found, met with every operand (so an unpermuted operand met
        before a permuted one is not missed)."""
        desc = None
        for x, d in pairs:
            if d >= 0 and self.a(x).get(d) is not None:
                desc = self.a(x)[d]
                break
        for x, d in pairs:
            if d >= 0 and desc is not None:
                desc = self.meet(desc, x, d)
        return desc

    def broadcast(self, n: torch.fx.Node, xs: Sequence[Any]) -> Dict[int, Any]:
        """Elementwise op of broadcasting operands: aligned dims meet."""
        out_nd = self.ndim(n)
        res: Dict[int, Any] = {}
        tens = [x for x in xs if isinstance(self.value(x), torch.Tensor)]
        for d in range(out_nd):
            desc = self.meet_all([(x, d - (out_nd - self.ndim(x))) for x in tens])
            if desc is not None:
                res[d] = desc
        return res

    # -- the rules -------------------------------------------------------
    def run(self) -> None:
        for n in self.graph.nodes:
            self.st.node = n
            try:
                self.rule(n)
            except _Refuse as e:
                self.boundary(n, str(e))

    def rule(self, n: torch.fx.Node) -> None:
        if n.op == "placeholder":
            self.ann[n] = {}
            return
        if n.op == "get_attr":
            v = self.value(n)
            self.ann[n] = {}
            if isinstance(v, torch.Tensor) and n.target in self.names:
                self.psrc[n] = (n.target, {d: d for d in range(v.dim())})
            return
        if n.op == "output":
            for s in self.spaces_in(n.args):
                self.st.fix(s, "reaches the model's output")
            return
        if n.op == "call_module":
            mod = self.st.root.get_submodule(n.target)
            fn = _MODULE_RULES.get(type(mod))
            if fn is None:
                for t, f in _MODULE_RULES.items():
                    if isinstance(mod, t):
                        fn = f
                        break
            if fn is None:
                return self.boundary(n, f"module {type(mod).__name__} is not known to keep "
                                        f"permutations")
            return fn(self, n, mod)
        name = n.target if isinstance(n.target, str) else getattr(n.target, "__name__", "")
        fn = _FUNCTION_RULES.get(name)
        if fn is None:
            return self.boundary(n, f"{name} is not known to keep permutations")
        fn(self, n)

    def same(self, n: torch.fx.Node, x: Any) -> None:
        self.ann[n] = dict(self.a(x))

    def linear(self, n: torch.fx.Node, x: Any, weight: str, bias: Optional[str],
               out: int, hint: str) -> None:
        ann = dict(self.a(x))
        nd = self.ndim(x)
        last = ann.pop(nd - 1, None)
        if last is not None:
            if last[0] != "L":
                raise _Refuse("a Linear on an axis split into heads")
            self.site(n, x)
            self.st.bind(weight, 1, last[1], "in")
        s = self.st.new(out, hint)
        self.st.bind(weight, 0, _lay1(s, out), "out")
        if bias is not None:
            self.st.bind(bias, 0, _lay1(s, out), "out")
        ann[nd - 1] = ("L", _lay1(s, out))
        self.ann[n] = ann

    def norm_last(self, n: torch.fx.Node, x: Any, shape: Sequence[int], weight: Optional[str],
                  bias: Optional[str]) -> None:
        ann = self.a(x)
        nd = self.ndim(x)
        k = len(shape)
        for d in range(nd - k, nd - 1):
            if d in ann:
                raise _Refuse("a LayerNorm over several axes, one of which holds units")
        last = ann.get(nd - 1)
        if last is not None and last[0] == "L" and k == 1:
            for p in (weight, bias):
                if p is not None:
                    self.st.bind(p, 0, last[1], "out")
        elif last is not None:
            raise _Refuse("a LayerNorm over an axis split into heads")
        self.same(n, x)


def _m_linear(A: _Analysis, n: torch.fx.Node, mod: nn.Linear) -> None:
    A.linear(n, n.args[0], f"{n.target}.weight", f"{n.target}.bias" if mod.bias is not None
             else None, mod.out_features, n.target)


def _m_conv(A: _Analysis, n: torch.fx.Node, mod: nn.modules.conv._ConvNd) -> None:
    x = n.args[0]
    ann = dict(A.a(x))
    if any(d != 1 for d in ann) or (1 in ann and ann[1][0] != "L"):
        raise _Refuse("a convolution whose units are not on axis 1")
    if isinstance(mod, nn.modules.conv._ConvTransposeNd):
        raise _Refuse("transposed convolutions are not traced")
    w, b = f"{n.target}.weight", f"{n.target}.bias" if mod.bias is not None else None
    lay = ann[1][1] if 1 in ann else None
    g, cin, cout = mod.groups, mod.in_channels, mod.out_channels
    if g == 1:
        if lay is not None:
            A.site(n, x)
            A.st.bind(w, 1, lay, "in")
        s = A.st.new(cout, n.target)
        out = _lay1(s, cout)
    elif g == cin and cout % cin == 0:
        # depthwise: output channel o = i * m + r reads input channel i
        m = cout // cin
        if lay is None:
            A.ann[n] = {}
            return
        out = tuple((s, wd, r * m) for s, wd, r in lay)
        if m > 1 and len(lay) > 1:
            raise _Refuse("a depthwise convolution with a multiplier on a concatenation")
    else:
        if lay is not None:
            A.st.fix_layout(lay, f"input of a grouped convolution (groups={g}): its "
                                 f"within-group order cannot move as one axis")
        s = A.st.new(cout, n.target)
        A.st.find(s).blocks.add(cout // g)
        out = _lay1(s, cout)
    A.st.bind(w, 0, out, "out")
    if b is not None:
        A.st.bind(b, 0, out, "out")
    A.ann[n] = {1: ("L", out)}


def _channels(A: _Analysis, n: torch.fx.Node, what: str) -> Optional[Tuple[Seg, ...]]:
    """The layout of the units on axis 1 of a norm's input (None: not permuted)."""
    ann = A.a(n.args[0])
    if any(d != 1 for d in ann):
        raise _Refuse(f"a {what} whose units are not on axis 1")
    return ann[1][1] if 1 in ann else None


def _bind_affine(A: _Analysis, n: torch.fx.Node, lay: Tuple[Seg, ...], affine: bool,
                 stats: bool) -> None:
    names = (["weight", "bias"] if affine else []) + \
        (["running_mean", "running_var"] if stats else [])
    for k in names:
        A.st.bind(f"{n.target}.{k}", 0, lay, "out", k.startswith("running"))


def _m_bn(A: _Analysis, n: torch.fx.Node, mod: nn.modules.batchnorm._BatchNorm) -> None:
    lay = _channels(A, n, "BatchNorm")
    if lay is not None:
        _bind_affine(A, n, lay, mod.affine, mod.track_running_stats)
    A.same(n, n.args[0])


def _m_gn(A: _Analysis, n: torch.fx.Node, mod: nn.GroupNorm) -> None:
    lay = _channels(A, n, "GroupNorm")
    if lay is not None:
        if len(lay) != 1 or lay[0][2] != 1:
            raise _Refuse("a GroupNorm on a concatenated axis")
        A.st.find(lay[0][0]).blocks.add(mod.num_channels // mod.num_groups)
        _bind_affine(A, n, lay, mod.affine, False)
    A.same(n, n.args[0])


def _m_ln(A: _Analysis, n: torch.fx.Node, mod: nn.LayerNorm) -> None:
    aff = mod.elementwise_affine
    A.norm_last(n, n.args[0], mod.normalized_shape, f"{n.target}.weight" if aff else None,
                f"{n.target}.bias" if aff else None)


def _m_embedding(A: _Analysis, n: torch.fx.Node, mod: nn.Embedding) -> None:
    if A.a(n.args[0]):
        raise _Refuse("an Embedding indexed by permuted values")
    s = A.st.new(mod.embedding_dim, n.target)
    A.st.bind(f"{n.target}.weight", 1, _lay1(s, mod.embedding_dim), "out")
    A.ann[n] = {A.ndim(n) - 1: ("L", _lay1(s, mod.embedding_dim))}


def _m_same(A: _Analysis, n: torch.fx.Node, mod: nn.Module) -> None:
    A.same(n, n.args[0])


def _m_pool(A: _Analysis, n: torch.fx.Node, mod: nn.Module) -> None:
    _pool_like(A, n, n.args[0], 2 if "2d" in type(mod).__name__ else
               (1 if "1d" in type(mod).__name__ else 3))


def _pool_like(A: _Analysis, n: torch.fx.Node, x: Any, k: int) -> None:
    nd = A.ndim(x)
    if any(d >= nd - k for d in A.a(x)):
        raise _Refuse("pooling over an axis that holds units")
    A.same(n, x)


def _m_flatten(A: _Analysis, n: torch.fx.Node, mod: nn.Flatten) -> None:
    _reshape(A, n, n.args[0])


def _last_only(A: _Analysis, x: Any, what: str) -> Tuple[Any, int]:
    """(descriptor of x's last axis or None, x's rank); units elsewhere refuse."""
    ann = dict(A.a(x))
    nd = A.ndim(x)
    last = ann.pop(nd - 1, None)
    if ann:
        raise _Refuse(f"{what} whose units are not on the last axis")
    if last is not None and (last[0] != "L" or len(last[1]) != 1):
        raise _Refuse(f"{what} on a concatenated input or one split into heads")
    return last, nd


def _attention(A: _Analysis, n: torch.fx.Node, x: Any, what: str, E: int, H: int,
               qw: str, qb: Optional[str], pw: str, pb: Optional[str],
               hint: str) -> Dict[int, Any]:
    """Self-attention with a fused q, k, v projection qw (qb) of E = H heads
    and an output projection pw (pb): q, k, v are parts bound to one point
    with groups H (q and k units must move together, inside their heads)."""
    last, nd = _last_only(A, x, what)
    if last is not None:
        A.site(n, x)
        A.st.bind(qw, 1, last[1], "in")
    a = A.st.new(E, hint)
    A.st.find(a).blocks.add(E // H)
    for p in (qw, qb):
        if p is not None:
            A.st.qkv[p] = 0
            A.st.bind(p, 0, ((a, E, 1),) * 3, "out")
    A.st.bind(pw, 1, _lay1(a, E), "in")
    o = A.st.new(E, pw.rsplit(".", 1)[0])
    for p in (pw, pb):
        if p is not None:
            A.st.bind(p, 0, _lay1(o, E), "out")
    return {nd - 1: ("L", _lay1(o, E))}


def _m_mha(A: _Analysis, n: torch.fx.Node, mod: nn.MultiheadAttention) -> None:
    q, k, v = _arg(n, 0, "query"), _arg(n, 1, "key"), _arg(n, 2, "value")
    if not (q is k is v) or not mod._qkv_same_embed_dim or mod.bias_k is not None or \
            mod.add_zero_attn:
        raise _Refuse("a MultiheadAttention that is not plain self-attention")
    t = n.target
    out = _attention(A, n, q, "a MultiheadAttention", mod.embed_dim, mod.num_heads,
                     f"{t}.in_proj_weight",
                     f"{t}.in_proj_bias" if mod.in_proj_bias is not None else None,
                     f"{t}.out_proj.weight",
                     f"{t}.out_proj.bias" if mod.out_proj.bias is not None else None, t)
    A.ann[n] = ("tuple", [out, {}])


_UNARY = {"relu", "relu_", "relu6", "gelu", "silu", "sigmoid", "tanh", "hardswish",
          "hardsigmoid", "elu", "leaky_relu", "dropout", "contiguous", "clone", "detach",
          "stochastic_depth", "abs", "neg", "exp", "sqrt", "rsqrt", "softmax", "log_softmax",
          "float", "type_as", "to", "erf", "mish", "softplus"}

_MODULE_RULES: Dict[type, Any] = {
    nn.Linear: _m_linear,
    nn.Conv1d: _m_conv, nn.Conv2d: _m_conv, nn.Conv3d: _m_conv,
    nn.BatchNorm1d: _m_bn, nn.BatchNorm2d: _m_bn, nn.BatchNorm3d: _m_bn,
    nn.GroupNorm: _m_gn, nn.LayerNorm: _m_ln, nn.Embedding: _m_embedding,
    nn.ReLU: _m_same, nn.ReLU6: _m_same, nn.GELU: _m_same, nn.SiLU: _m_same,
    nn.Sigmoid: _m_same, nn.Tanh: _m_same, nn.Hardswish: _m_same, nn.Hardsigmoid: _m_same,
    nn.Dropout: _m_same, nn.Identity: _m_same, nn.LeakyReLU: _m_same, nn.ELU: _m_same,
    nn.Softmax: _m_same, nn.Mish: _m_same,
    nn.MaxPool1d: _m_pool, nn.MaxPool2d: _m_pool, nn.AvgPool1d: _m_pool, nn.AvgPool2d: _m_pool,
    nn.AdaptiveAvgPool1d: _m_pool, nn.AdaptiveAvgPool2d: _m_pool,
    nn.AdaptiveMaxPool2d: _m_pool,
    nn.Flatten: _m_flatten, nn.MultiheadAttention: _m_mha,
}


# ---- functions and methods ---------------------------------------------------

def _f_unary(A: _Analysis, n: torch.fx.Node) -> None:
    if not n.args or not isinstance(n.args[0], torch.fx.Node):
        raise _Refuse("an operation without a tensor operand")
    for x in list(n.args[1:]) + list(n.kwargs.values()):
        if isinstance(x, torch.fx.Node) and isinstance(A.value(x), torch.Tensor):
            raise _Refuse("a unary operation with a second tensor operand")
    A.same(n, n.args[0])
    if n.args[0] in A.psrc and n.target in ("contiguous", "to", "float", "detach"):
        A.psrc[n] = A.psrc[n.args[0]]


def _f_binary(A: _Analysis, n: torch.fx.Node) -> None:
    xs = list(n.args[:2]) + [n.kwargs[k] for k in ("other",) if k in n.kwargs]
    A.ann[n] = A.broadcast(n, xs)


def _f_pool(A: _Analysis, n: torch.fx.Node) -> None:
    name = n.target if isinstance(n.target, str) else n.target.__name__
    _pool_like(A, n, n.args[0], 2 if "2d" in name else (1 if "1d" in name else 3))


def _f_pad(A: _Analysis, n: torch.fx.Node) -> None:
    pad = n.args[1] if len(n.args) > 1 else n.kwargs["pad"]
    k = len(pad) // 2
    nd = A.ndim(n.args[0])
    touched = [nd - 1 - i for i in range(k) if pad[2 * i] or pad[2 * i + 1]]
    if any(d in A.a(n.args[0]) for d in touched):
        raise _Refuse("padding an axis that holds units")
    A.same(n, n.args[0])


def _norm_dims(dims: Any, nd: int) -> List[int]:
    if isinstance(dims, int):
        dims = [dims]
    return sorted(d % nd for d in dims)


def _f_reduce(A: _Analysis, n: torch.fx.Node) -> None:
    """mean / sum / amax over dims: units on a reduced dim are summed away
    (invariant); the other dims keep theirs."""
    x = n.args[0]
    nd = A.ndim(x)
    dims = n.args[1] if len(n.args) > 1 else n.kwargs.get("dim")
    keep = n.kwargs.get("keepdim", n.args[2] if len(n.args) > 2 else False)
    ann = A.a(x)
    if dims is None:
        A.ann[n] = {}
        return
    red = _norm_dims(dims, nd)
    out = {}
    for d, desc in ann.items():
        if d in red:
            if desc[0] == "W":
                raise _Refuse("a reduction over the units of a head")
            continue
        out[d if keep else d - sum(r < d for r in red)] = desc
    A.ann[n] = out


def _f_permute(A: _Analysis, n: torch.fx.Node) -> None:
    x = n.args[0]
    nd = A.ndim(x)
    dims = n.args[1:] if n.kwargs.get("dims") is None else n.kwargs["dims"]
    if len(dims) == 1 and isinstance(dims[0], (list, tuple)):
        dims = dims[0]
    dims = [d % nd for d in dims]
    ann = A.a(x)
    A.ann[n] = {j: ann[d] for j, d in enumerate(dims) if d in ann}
    if x in A.psrc:
        name, pm = A.psrc[x]
        A.psrc[n] = (name, {j: pm[d] for j, d in enumerate(dims) if d in pm})


def _f_transpose(A: _Analysis, n: torch.fx.Node) -> None:
    x = n.args[0]
    nd = A.ndim(x)
    if n.target == "t" or (len(n.args) < 3 and not n.kwargs):
        a, b = 0, 1
    else:
        a, b = n.args[1] % nd, n.args[2] % nd
    ann = dict(A.a(x))
    da, db = ann.pop(a, None), ann.pop(b, None)
    if da is not None:
        ann[b] = da
    if db is not None:
        ann[a] = db
    A.ann[n] = ann


def _f_expand(A: _Analysis, n: torch.fx.Node) -> None:
    x = n.args[0]
    shift = A.ndim(n) - A.ndim(x)
    A.ann[n] = {d + shift: v for d, v in A.a(x).items()}
    if x in A.psrc:
        name, pm = A.psrc[x]
        A.psrc[n] = (name, {d + shift: a for d, a in pm.items()})


def _reshape_groups(a: Sequence[int], b: Sequence[int]) -> Optional[List[Tuple[List[int],
                                                                           List[int]]]]:
    """Consecutive groups of dims of shapes a and b with equal products."""
    groups: List[Tuple[List[int], List[int]]] = []
    i = j = 0
    while i < len(a) and j < len(b):
        gi, gj, pa, pb = [i], [j], a[i], b[j]
        i += 1
        j += 1
        while pa != pb:
            if pa < pb:
                if i >= len(a):
                    return None
                gi.append(i)
                pa *= a[i]
                i += 1
            else:
                if j >= len(b):
                    return None
                gj.append(j)
                pb *= b[j]
                j += 1
        groups.append((gi, gj))
    if not groups:
        return [] if not a and not b else None
    while i < len(a):
        if a[i] != 1:
            return None
        groups[-1][0].append(i)
        i += 1
    while j < len(b):
        if b[j] != 1:
            return None
        groups[-1][1].append(j)
        j += 1
    return groups


def _reshape(A: _Analysis, n: torch.fx.Node, x: Any) -> None:
    a = list(A.value(x).shape)
    b = list(A.value(n).shape)
    ann = A.a(x)
    groups = _reshape_groups(a, b)
    if groups is None:
        raise _Refuse("a reshape whose axes do not line up")
    out: Dict[int, Any] = {}
    for gi, gj in groups:
        descs = [(d, ann[d]) for d in gi if d in ann]
        if not descs:
            continue
        ri = [d for d in gi if a[d] != 1]
        rj = [d for d in gj if b[d] != 1]
        if len(ri) == 1 and len(rj) == 1:
            out[rj[0]] = ann[ri[0]] if ri[0] in ann else None
            continue
        if len(rj) == 1 and len(descs) == 1 and descs[0][0] == ri[0] and descs[0][1][0] == "L":
            # flatten: the units' axis first, the others inner: each unit repeated
            k = math.prod(a[d] for d in ri[1:])
            out[rj[0]] = ("L", tuple((s, w, r * k) for s, w, r in descs[0][1][1]))
            continue
        if len(rj) == 1 and len(ri) == 2 and [ann.get(d, (None,))[0] for d in ri] == ["G", "W"]:
            g, w = ann[ri[0]], ann[ri[1]]
            if g[1] == w[1] or A.st.find(g[1]) is A.st.find(w[1]):
                out[rj[0]] = ("L", _lay1(g[1], A.st.find(g[1]).width))
                continue
        if len(ri) == 1 and ri[0] in ann and ann[ri[0]][0] == "L":
            out.update(_split_units(A, n, x, ann[ri[0]][1], [b[d] for d in rj], rj))
            continue
        raise _Refuse("a reshape that mixes units with another axis (e.g. a channel shuffle)")
    A.ann[n] = {d: v for d, v in out.items() if v is not None}


def _split_units(A: _Analysis, n: torch.fx.Node, x: Any, lay: Tuple[Seg, ...],
                 sizes: List[int], dims: List[int]) -> Dict[int, Any]:
    """The units' axis reshaped into (P, G, C/G) (a fused q, k, v projection
    with heads) or (G, C/G) (heads)."""
    if len(lay) != 1 or lay[0][2] != 1 or lay[0][0] is None:
        raise _Refuse("a reshape that splits a concatenated or repeated axis into several "
                      "(a channel shuffle mixes units)")
    s = lay[0][0]
    if len(sizes) == 3:
        P = sizes[0]
        s = _split_fresh(A, x, s, P)
        res: Dict[int, Any] = {dims[0]: ("P", P)}
        sizes, dims = sizes[1:], dims[1:]
    elif len(sizes) == 2:
        res = {}
    else:
        raise _Refuse("a reshape of the units' axis into more than three axes")
    G, hd = sizes
    sp = A.st.find(s)
    sp.blocks.add(hd)
    res[dims[0]] = ("G", sp.id, G)
    res[dims[1]] = ("W", sp.id, G)
    return res


def _split_fresh(A: _Analysis, x: Any, s: int, P: int) -> int:
    """Space s, made by one Linear whose output only this reshape reads,
    becomes P parts of its weight and bias, all bound to one new space."""
    sp = A.st.find(s)
    if sp.id != s or sp.width % P or len(x.users) != 1:
        raise _Refuse("a reshape into parts of units that are used elsewhere")
    owners = [(k, v) for k, v in A.st.binds.items() if any(seg[0] == s for seg in v[0])]
    if not owners or any(v[1] != "out" or k[1] != 0 or len(v[0]) != 1 for k, v in owners):
        raise _Refuse("a reshape into parts of units not made by one layer")
    part = A.st.new(sp.width // P, sp.hint)
    sp.parent = part  # the old space lives on only through the parts
    for (name, axis), (lay, role, ig) in owners:
        A.st.binds[(name, axis)] = (((part, sp.width // P, 1),) * P, role, ig)
        if P == 3:
            A.st.qkv[name] = axis
    return part


def _f_reshape(A: _Analysis, n: torch.fx.Node) -> None:
    _reshape(A, n, n.args[0])


def _f_getitem(A: _Analysis, n: torch.fx.Node) -> None:
    x, idx = n.args[0], n.args[1]
    v = A.ann.get(x)
    if isinstance(v, tuple) and v and v[0] == "tuple":
        A.ann[n] = v[1][idx] if isinstance(idx, int) and idx < len(v[1]) else {}
        return
    val = A.value(x)
    if not isinstance(val, torch.Tensor):
        A.ann[n] = {}
        return
    ann = A.a(x)
    if not isinstance(idx, tuple):
        idx = (idx,)
    nd = val.dim()
    n_real = sum(1 for e in idx if e is not None and e is not Ellipsis)
    out: Dict[int, Any] = {}
    d = j = 0
    for e in idx:
        if e is Ellipsis:
            for _ in range(nd - n_real):
                if d in ann:
                    out[j] = ann[d]
                d += 1
                j += 1
        elif e is None:
            j += 1
        elif isinstance(e, int):
            if d in ann and ann[d][0] != "P" and ann[d][0] != "G":
                raise _Refuse("indexing one unit of an axis that holds units")
            d += 1
        elif isinstance(e, slice):
            full = e == slice(None) or (e.start in (None, 0) and e.stop is None and
                                        e.step in (None, 1))
            if d in ann and not full:
                raise _Refuse("slicing some units of an axis that holds units")
            if d in ann:
                out[j] = ann[d]
            d += 1
            j += 1
        else:
            raise _Refuse("indexing by a tensor")
    while d < nd:
        if d in ann:
            out[j] = ann[d]
        d += 1
        j += 1
    A.ann[n] = out


def _f_cat(A: _Analysis, n: torch.fx.Node) -> None:
    xs = n.args[0]
    dim = n.args[1] if len(n.args) > 1 else n.kwargs.get("dim", 0)
    nd = A.ndim(n)
    dim %= nd
    segs: List[Seg] = []
    for x in xs:
        desc = A.a(x).get(dim)
        if desc is None:
            segs.append((None, int(A.value(x).shape[dim]), 1))
        elif desc[0] == "L":
            segs.extend(desc[1])
        else:
            raise _Refuse("concatenating axes split into heads")
    out: Dict[int, Any] = {}
    if any(s is not None for s, _, _ in segs):
        out[dim] = ("L", tuple(segs))
    for d in range(nd):
        if d == dim:
            continue
        desc = A.meet_all([(x, d) for x in xs])
        if desc is not None:
            out[d] = desc
    A.ann[n] = out


def _f_matmul(A: _Analysis, n: torch.fx.Node) -> None:
    a, b = n.args[0], n.args[1]
    na, nb = A.ndim(a), A.ndim(b)
    if na < 2 or nb < 2:
        raise _Refuse("a matmul of vectors")
    aa, ab = A.a(a), A.a(b)
    ka, kb = aa.get(na - 1), ab.get(nb - 2)
    if ka is not None or kb is not None:
        if ka is None or kb is None or ka[0] != "W" or kb[0] != "W" or \
                A.st.find(ka[1]) is not A.st.find(kb[1]):
            raise _Refuse("a matmul whose contracted axes do not hold the same units")
    nd = A.ndim(n)
    out: Dict[int, Any] = {}
    for d in range(nd - 2):
        desc = A.meet_all([(x, d - (nd - xn)) for x, xn in ((a, na), (b, nb))])
        if desc is not None:
            out[d] = desc
    if na - 2 in aa:
        out[nd - 2] = aa[na - 2]
    if nb - 1 in ab:
        out[nd - 1] = ab[nb - 1]
    A.ann[n] = out


def _arg(n: torch.fx.Node, i: int, name: str) -> Any:
    return n.args[i] if len(n.args) > i else n.kwargs.get(name)


def _f_linear(A: _Analysis, n: torch.fx.Node) -> None:
    w, b = _arg(n, 1, "weight"), _arg(n, 2, "bias")
    wn = A.param_of(w)
    bn = A.param_of(b) if b is not None else None
    if wn is None or (b is not None and bn is None):
        raise _Refuse("F.linear with a weight that is not a parameter")
    A.linear(n, n.args[0], wn, bn, int(A.value(w).shape[0]), wn.rsplit(".", 1)[0])


def _f_layer_norm(A: _Analysis, n: torch.fx.Node) -> None:
    shape = _arg(n, 1, "normalized_shape")
    w, b = _arg(n, 2, "weight"), _arg(n, 3, "bias")
    wn = A.param_of(w) if w is not None else None
    bn = A.param_of(b) if b is not None else None
    if (w is not None and wn is None) or (b is not None and bn is None):
        raise _Refuse("layer_norm with a weight that is not a parameter")
    A.norm_last(n, n.args[0], shape, wn, bn)


def _f_flatten(A: _Analysis, n: torch.fx.Node) -> None:
    _reshape(A, n, n.args[0])


def _f_swin_attention(A: _Analysis, n: torch.fx.Node) -> None:
    """torchvision's shifted_window_attention (fx-wrapped): q, k, v heads."""
    x = n.args[0]
    qw, pw = A.param_of(_arg(n, 1, "qkv_weight")), A.param_of(_arg(n, 2, "proj_weight"))
    heads = _arg(n, 5, "num_heads")
    qb, pb = n.kwargs.get("qkv_bias"), n.kwargs.get("proj_bias")
    qbn = A.param_of(qb) if qb is not None else None
    pbn = A.param_of(pb) if pb is not None else None
    if qw is None or pw is None or (qb is not None and qbn is None) or \
            (pb is not None and pbn is None) or n.kwargs.get("logit_scale") is not None:
        raise _Refuse("shifted_window_attention with weights that are not parameters")
    E = int(A.value(_arg(n, 2, "proj_weight")).shape[1])
    A.ann[n] = _attention(A, n, x, "shifted_window_attention", E, heads, qw, qbn, pw, pbn,
                          qw.rsplit(".", 2)[0])


def _f_patch_merging_pad(A: _Analysis, n: torch.fx.Node) -> None:
    """torchvision's _patch_merging_pad: the 2 x 2 neighbours concatenated on the last axis."""
    x = n.args[0]
    ann = dict(A.a(x))
    nd = A.ndim(x)
    last = ann.pop(nd - 1, None)
    if ann:
        raise _Refuse("_patch_merging_pad whose units are not on the last axis")
    A.ann[n] = {} if last is None else {nd - 1: ("L", tuple(last[1]) * 4)}


def _f_fixed(A: _Analysis, n: torch.fx.Node) -> None:
    """An operation on unpermuted tensors only (relative position bias)."""
    if A.spaces_in((n.args, n.kwargs)):
        raise _Refuse("an operation reading permuted units")
    A.ann[n] = {}


_FUNCTION_RULES: Dict[str, Any] = {
    **{k: _f_unary for k in _UNARY},
    "add": _f_binary, "iadd": _f_binary, "sub": _f_binary, "mul": _f_binary, "imul": _f_binary,
    "truediv": _f_binary, "div": _f_binary,
    "adaptive_avg_pool2d": _f_pool, "adaptive_avg_pool1d": _f_pool, "max_pool2d": _f_pool,
    "avg_pool2d": _f_pool, "adaptive_max_pool2d": _f_pool, "pad": _f_pad,
    "mean": _f_reduce, "sum": _f_reduce, "amax": _f_reduce,
    "permute": _f_permute, "transpose": _f_transpose, "t": _f_transpose,
    "expand": _f_expand, "expand_as": _f_expand,
    "reshape": _f_reshape, "view": _f_reshape, "flatten": _f_flatten,
    "getitem": _f_getitem, "cat": _f_cat, "concat": _f_cat,
    "matmul": _f_matmul,
    "linear": _f_linear, "layer_norm": _f_layer_norm,
    "shifted_window_attention": _f_swin_attention,
    "_patch_merging_pad": _f_patch_merging_pad,
    "_get_relative_position_bias": _f_fixed,
}


# ---- from spaces to a Graph ---------------------------------------------------

def _materialize(st: _State, model: nn.Module) -> Graph:
    sd = model.state_dict()
    # an unknown op read these parameters: their spaces stay unpermuted
    for (name, axis), (lay, _, _) in list(st.binds.items()):
        if name in st.frozen:
            b = st.frozen[name]
            st.node = None
            for s, _, _ in lay:
                if s is not None and st.find(s).fixed is None:
                    st.find(s).fixed = b
                    st.report.boundaries.append(b)
    live = lambda s: s is not None and st.find(s).fixed is None
    # the bound layouts per tensor, resolved
    per_tensor: Dict[str, Dict[int, Tuple[List[Seg], str, bool]]] = {}
    for (name, axis), (lay, role, ig) in st.binds.items():
        if name not in sd or not torch.is_floating_point(sd[name]):
            continue
        segs = [(st.find(s).id if live(s) else None, w, r) for s, w, r in lay]
        if not any(s is not None for s, _, _ in segs):
            continue
        per_tensor.setdefault(name, {})[axis] = (segs, role, ig)
    # one concatenated axis per tensor; repeats only on whole bindings
    for name, axes in per_tensor.items():
        multi = [a for a, (segs, _, _) in axes.items() if len(segs) > 1]
        for a in multi[1:]:
            st.node = None
            for s, _, _ in axes[a][0]:
                st.fix(s, f"tensor '{name}' would need two concatenated axes")
        for a in multi[:1]:
            segs = axes[a][0]
            if any(r != 1 for _, _, r in segs):
                for s, _, _ in segs:
                    st.fix(s, f"tensor '{name}': a flatten of a concatenation")
    # the points: live spaces with a binding, in order of creation
    roots: Dict[int, _Space] = {}
    for name, axes in per_tensor.items():
        for segs, _, _ in axes.values():
            for s, _, _ in segs:
                if live(s):
                    roots[st.find(s).id] = st.find(s)
    g = Graph()
    index: Dict[int, int] = {}
    used = set()
    for sid in sorted(roots):
        sp = roots[sid]
        name = sp.hint or f"point{sid}"
        k = 1
        while name in used:
            k += 1
            name = f"{sp.hint}#{k}"
        used.add(name)
        bs = set(sp.blocks) or {sp.width}
        block = sp.width
        for b in bs:
            block = math.gcd(block, b)
        index[sid] = g.add_point(name, sp.width, sp.width // block)
        if sp.site is not None:
            g.set_site(index[sid], sp.site[0], sp.site[1])
    # splits first, then bindings, in the state_dict's order
    order = {k: i for i, k in enumerate(sd)}
    for name in sorted(per_tensor, key=lambda t: order.get(t, 0)):
        for axis, (segs, role, ig) in sorted(per_tensor[name].items()):
            segs = [(s if live(s) else None, w, r) for s, w, r in segs]
            if not any(s is not None for s, _, _ in segs):
                continue
            if len(segs) == 1:
                s, w, r = segs[0]
                g.bind(index[st.find(s).id], name, axis, role, ignore=ig, repeat=r)
                continue
            sizes = [w * r for _, w, r in segs]
            if st.qkv.get(name) == axis and len(segs) == 3 and len(set(sizes)) == 1:
                parts = ["q", "k", "v"]
                g.add_split(name, axis, parts)
            else:
                parts = [str(k) for k in range(len(segs))]
                g.add_concat(name, axis, parts, sizes)
            for part, (s, w, r) in zip(parts, segs):
                if s is not None:
                    g.bind(index[st.find(s).id], name, axis, role, part=part, ignore=ig)
    return g


def trace_graph(model: nn.Module, example_inputs: Any, on_unknown: str = "boundary") -> Graph:
    """The graph of a PyTorch network, found by tracing it on example_inputs
    (a tensor or a tuple of them) with torch.fx (module docstring,
    docs/tracing.md).  Tensor names are the state_dict's.  on_unknown:
    "boundary" (default) fixes the units reaching an operation not known to
    keep permutations and records it in graph.trace_report.boundaries;
    "error" raises UnsupportedError naming the traced node and op.  The
    returned Graph has .trace_report (TraceReport)."""
    if on_unknown not in ("boundary", "error"):
        raise errors.InvalidArgumentError.make(
            f"trace_graph: on_unknown {on_unknown!r} is not 'boundary' or 'error'")
    t0 = time.perf_counter()
    inputs = example_inputs if isinstance(example_inputs, (tuple, list)) else (example_inputs,)
    tracer = _Tracer(model, inputs)
    try:
        fx_graph = tracer.trace(model)
    except Exception as e:  # torch.fx's own refusals
        raise errors.UnsupportedError.make(f"trace_graph: torch.fx cannot trace the model: "
                                           f"{type(e).__name__}: {e}") from e
    st = _State(model, on_unknown)
    A = _Analysis(st, fx_graph, tracer.calls)
    A.run()
    st.node = None
    g = _materialize(st, model)
    st.report.seconds = time.perf_counter() - t0
    st.report.nodes = len(fx_graph.nodes)
    g.trace_report = st.report  # type: ignore[attr-defined]
    return g


# ---- the function-preservation check -------------------------------------------

@dataclass
class VerifyResult:
    """verify_graph's answer.  ok: the permuted model's outputs equal the
    model's within rtol; max_rel_error: max |a - b| / max |a| over the
    outputs; first_bad_point: the first point whose permutation alone
    changes them (None when ok); unbound: float tensors no point binds."""
    ok: bool
    max_rel_error: float
    first_bad_point: Optional[str]
    unbound: List[str]
    point_errors: Dict[str, float] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.ok


def _outputs(x: Any) -> List[torch.Tensor]:
    if isinstance(x, torch.Tensor):
        return [x]
    if isinstance(x, dict):
        return [t for k in sorted(x) for t in _outputs(x[k])]
    if isinstance(x, (list, tuple)):
        return [t for e in x for t in _outputs(e)]
    return []


def _rel_error(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor]) -> float:
    worst = 0.0
    for x, y in zip(a, b):
        x, y = x.detach().double(), y.detach().double()
        scale = float(x.abs().max()) if x.numel() else 0.0
        diff = float((x - y).abs().max()) if x.numel() else 0.0
        worst = max(worst, diff / scale if scale > 0 else diff)
    return worst


def verify_graph(model: nn.Module, graph: Graph, example_inputs: Any, seed: int = 0,
                 rtol: float = 1e-5, bisect: bool = True) -> VerifyResult:
    """Check that graph keeps model's function: permute the model along the
    graph at random (Graph.permute_model, i.e. mudsc_permute_model, seed),
    run both on example_inputs in eval mode under no_grad and compare the
    outputs (relative error max |a - b| / max |a| <= rtol).  When they
    differ and bisect is true, each point is permuted alone to find the
    first that changes them.  The model is not modified."""
    from .torch import model_from_state_dict, state_dict_from_model
    inputs = example_inputs if isinstance(example_inputs, (tuple, list)) else (example_inputs,)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    m = model_from_state_dict(state)
    twin = copy.deepcopy(model).eval()
    was = model.training
    model.eval()

    def run(point: Optional[int]) -> float:
        perm = graph.permute_model(m, seed=seed, point=point)
        twin.load_state_dict(state_dict_from_model(perm, copy=True))
        with torch.no_grad():
            return _rel_error(ref, _outputs(twin(*inputs)))

    try:
        with torch.no_grad():
            ref = _outputs(model(*inputs))
        err = run(None)
        first, per = None, {}
        if err > rtol and bisect:
            for p in range(len(graph)):
                e = run(p)
                name = graph.point(p).name
                per[name] = e
                if e > rtol:
                    first = name
                    break
    finally:
        model.train(was)
    unbound = [k for k in graph.unbound(m) if torch.is_floating_point(state[k])]
    return VerifyResult(err <= rtol, err, first, unbound, per)
