"""Partial zipping (include/mudsc/partial.h, docs/algorithm.md section 19):
merge the points up to a depth; the merged model is a shared trunk plus one
head per source model, head i's tensors named "heads.<i>.<name>"."""
from __future__ import annotations

import ctypes
from typing import Any, Optional, Sequence

import numpy as np

from . import errors
from ._lib import F64P, check, lib
from .graph import Graph
from .matcher import Matcher
from .model import Model


def prefix(graph: Graph, depth: int) -> Graph:
    """The graph of graph's first `depth` points (mudsc_graph_prefix)."""
    out = ctypes.c_void_p()
    check(lib.mudsc_graph_prefix(ctypes.byref(out), graph._h, depth))
    return Graph._wrap(out)


def partial_merge(matcher: Any, weights: Optional[Sequence[float]] = None) -> Model:
    """The trunk + heads Model of a Matcher that ran on a prefix graph
    (mudsc_partial_merge; a MergeResult of mudsc.merge works too)."""
    from .correct import _matcher_of
    m: Matcher = _matcher_of(matcher)
    w = None if weights is None else np.ascontiguousarray(weights, dtype=np.float64)
    if w is not None and w.shape != (m.n_models,):
        raise errors.InvalidArgumentError.make(
            f"partial_merge: need {m.n_models} weights, got shape {w.shape}")
    out = ctypes.c_void_p()
    check(lib.mudsc_partial_merge(ctypes.byref(out), m._h, m.graph._h,
                                  None if w is None else w.ctypes.data_as(F64P)))
    return Model._wrap(out.value)


def head_names(model: Model, i: int) -> "dict[str, str]":
    """name in the source architecture -> name in a partially merged model,
    for the network of trunk + head i."""
    tag = f"heads.{i}."
    heads = [n for n in model.names() if n.startswith("heads.")]
    out = {n: n for n in model.names() if not n.startswith("heads.")}
    out.update({n[len(tag):]: n for n in heads if n.startswith(tag)})
    return out
