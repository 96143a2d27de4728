"""Corrections of a merged model (include/mudsc/correct.h): REPAIR.

repair() rescales and shifts every merged unit so that its mean and
standard deviation on the calibration data equal the weighted mean of its
source units' (docs/algorithm.md, section 17), folded into each point's
producer (a norm's weight and bias, or a layer's weight rows and bias).
repair_layer() does the same for one layer whose units correspond by index
in all models (a shared output layer, section 17.5).
"""
from __future__ import annotations

import ctypes
from typing import Any, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

from . import errors
from ._lib import F64P, Moments, RepairOptions, check, defaults, lib
from .matcher import Matcher
from .model import Model
from .stats import Stats

#: per point: (means, standard deviations) of the merged model, or None
PointMoments = Optional[Tuple[npt.ArrayLike, npt.ArrayLike]]


def _matcher_of(matcher: Any) -> Matcher:
    """A Matcher, or the matcher a MergeResult keeps (mudsc.merge's)."""
    if isinstance(matcher, Matcher):
        return matcher
    inner = getattr(getattr(matcher, "matrices", None), "_matcher", None)
    if isinstance(inner, Matcher):
        return inner
    raise errors.InvalidArgumentError.make(
        f"repair: matcher must be a Matcher or a MergeResult, not {type(matcher).__name__}")


def _moments_of(entry: Tuple[npt.ArrayLike, npt.ArrayLike], fn: str, what: str,
                keep: List[np.ndarray]) -> Moments:
    """A Moments struct viewing entry's (means, stds) as float64 arrays kept in keep."""
    mean = np.ascontiguousarray(entry[0], dtype=np.float64).reshape(-1)
    std = np.ascontiguousarray(entry[1], dtype=np.float64).reshape(-1)
    if mean.shape != std.shape:
        raise errors.InvalidArgumentError.make(
            f"{fn}: {what}: {mean.size} means and {std.size} stds")
    keep += [mean, std]
    return Moments(mean.size, mean.ctypes.data_as(F64P), std.ctypes.data_as(F64P))


def _weights_and_options(weights: Optional[Sequence[float]], n: int, min_std: Optional[float],
                         fn: str) -> Tuple[Any, Any]:
    """The weights as a float64 array (or None) and the options struct (or None)."""
    w = None if weights is None else np.ascontiguousarray(weights, dtype=np.float64)
    if w is not None and w.shape != (n,):
        raise errors.InvalidArgumentError.make(f"{fn}: need {n} weights, got shape {w.shape}")
    o = None
    if min_std is not None:
        o = defaults(RepairOptions)
        o.min_std = min_std
    return w, o


def repair(matcher: Any, merged: Model, sources: Stats,
           merged_stats: Union[Sequence[PointMoments], Mapping[str, PointMoments]],
           weights: Optional[Sequence[float]] = None,
           min_std: Optional[float] = None) -> Model:
    """REPAIR (mudsc_repair): a new Model, `merged` with every merged unit's
    statistics brought to the weighted mean of its source units'.

    matcher: the Matcher that merged (or mudsc.merge's MergeResult).
    sources: the source models' Stats at the pre-activation site (a graph
    built with site="pre" has the same point names).  merged_stats: per point
    of the matcher's graph (a sequence in point order, or a mapping by name;
    missing or None: the point is left as merged), the merged model's
    (means, population standard deviations), measured on the model whose
    earlier points are already corrected (docs/algorithm.md 14.3; the torch
    helper mudsc.torch.repair does this).  weights: the merge weights
    (default 1/N); min_std: merged units at or below it are only shifted."""
    m = _matcher_of(matcher)
    names = m.graph.point_names
    if isinstance(merged_stats, Mapping):
        unknown = sorted(set(merged_stats) - set(names))
        if unknown:
            raise errors.InvalidArgumentError.make(
                f"repair: merged_stats names points the graph lacks: {unknown}")
        per_point = [merged_stats.get(n) for n in names]
    else:
        per_point = list(merged_stats)
    keep: List[np.ndarray] = []
    moments = (Moments * max(len(per_point), 1))()
    for q, entry in enumerate(per_point):
        if entry is None:
            continue
        moments[q] = _moments_of(entry, "repair", f"merged_stats[{q}]", keep)
    w, o = _weights_and_options(weights, m.n_models, min_std, "repair")
    out = ctypes.c_void_p()
    check(lib.mudsc_repair(ctypes.byref(out), m._h, m.graph._h, merged._h, sources._h, moments,
                           len(per_point), None if w is None else w.ctypes.data_as(F64P),
                           None if o is None else ctypes.byref(o)))
    return Model._wrap(out.value)


def repair_layer(merged: Model, weight: str, bias: str,
                 sources: Sequence[Tuple[npt.ArrayLike, npt.ArrayLike]],
                 merged_stats: Tuple[npt.ArrayLike, npt.ArrayLike],
                 weights: Optional[Sequence[float]] = None,
                 min_std: Optional[float] = None) -> Model:
    """REPAIR of one layer whose units correspond by index in every model
    (mudsc_repair_layer, correct.h; docs/algorithm.md 17.5): a new Model,
    `merged` with unit j of the layer (rows of `weight` and `bias`) brought
    to the weighted mean over the models of their unit j's mean and
    standard deviation.  sources: per model, (means, population stds) of
    the layer's output on the calibration data; merged_stats: the merged
    model's on the same data (after the earlier corrections); weights: the
    merge weights (default 1/N); min_std as repair()."""
    keep: List[np.ndarray] = []
    src = (Moments * max(len(sources), 1))()
    for i, entry in enumerate(sources):
        src[i] = _moments_of(entry, "repair_layer", f"sources[{i}]", keep)
    ms = _moments_of(merged_stats, "repair_layer", "merged_stats", keep)
    w, o = _weights_and_options(weights, len(sources), min_std, "repair_layer")
    out = ctypes.c_void_p()
    check(lib.mudsc_repair_layer(ctypes.byref(out), merged._h, weight.encode(), bias.encode(),
                                 src, len(sources), ctypes.byref(ms),
                                 None if w is None else w.ctypes.data_as(F64P),
                                 None if o is None else ctypes.byref(o)))
    return Model._wrap(out.value)
