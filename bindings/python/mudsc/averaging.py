"""averaging: weighted averages of models (mudsc_average, average.h), in place
into a destination Model, and the aligned average through a Matcher
(mudsc_average_aligned).

    >>> dst = mudsc.average([a, b, c])                 # a new Model, 1/3 each
    >>> mudsc.average([a, b], weights=[0.25, 0.75], out=a)   # into a, in place

Each float element is the weighted sum in double, rounded once to its
dtype (docs/algorithm.md section 16); non-float tensors come from models[0].
"""
from __future__ import annotations

import ctypes
from typing import Mapping, Optional, Sequence, Union

import numpy as np
import numpy.typing as npt

from . import errors
from ._lib import F64P, AverageOptions, check, defaults, lib
from .graph import Graph
from .matcher import Matcher
from .model import Model, as_model

ModelLike = Union[Model, Mapping[str, npt.ArrayLike]]


def _options(threads: Optional[int]) -> AverageOptions:
    opts = defaults(AverageOptions)
    if threads is not None:
        opts.threads = threads
    return opts


def writable_copy(model: Model) -> Model:
    """A Model with a fresh, writable copy of every tensor of model (same
    names, dtypes, shapes and order), borrowed from NumPy arrays it keeps
    alive: a destination for average()."""
    out = Model()
    for name in model.names():
        info = model.info(name)
        bits = np.array(model.bits(name))  # a writable copy of the bytes
        out.add(name, bits, dtype=info.dtype)
    return out


def _weights(weights: Optional[Sequence[float]], n: int) -> Optional[np.ndarray]:
    if weights is None:
        return None
    w = np.ascontiguousarray(weights, dtype=np.float64)
    if w.shape != (n,):
        raise errors.InvalidArgumentError.make(
            f"average: need {n} weights, got shape {w.shape}")
    return w


def average(models: Sequence[ModelLike], weights: Optional[Sequence[float]] = None,
            out: Optional[Model] = None, align: Union[None, Graph, Matcher] = None,
            threads: Optional[int] = None) -> Model:
    """dst = sum_i weights[i] * models[i], returned.

    models: Models or dicts of NumPy arrays with the same tensor names, and
    per name the same dtype and shape.  weights: one per model, finite,
    summing to 1 (within 1e-6; negative ones extrapolate); None = 1/N.
    out: the Model to write into (not frozen, not a mapped file; its
    tensors' memory is overwritten: the NumPy arrays it borrows change), which
    may be one of models; None = a new Model (writable_copy of models[0]).
    align: None (plain average); a Matcher that has run with method "align"
    (its models are the ones averaged; models is then ignored and may be
    empty); or a Graph: the models are first aligned by weight matching with
    a Matcher over that graph.  threads: the element loop's thread count
    (None: the library default, mudsc.threads()).
    """
    opts = _options(threads)
    if align is not None:
        matcher = align if isinstance(align, Matcher) else None
        if matcher is None:
            if not isinstance(align, Graph):
                raise errors.InvalidArgumentError.make(
                    "average: 'align' must be None, a Graph or a Matcher")
            matcher = Matcher(align, [as_model(m) for m in models])
            matcher.run()
        if out is None:
            out = writable_copy(matcher.models[0])
        w = _weights(weights, matcher.n_models)
        check(lib.mudsc_average_aligned(out._h, matcher._h,
                                        None if w is None else w.ctypes.data_as(F64P),
                                        ctypes.byref(opts)))
        return out
    ms = [as_model(m) for m in models]
    if not ms:
        raise errors.InvalidArgumentError.make("average: 'models' is empty")
    if out is None:
        out = writable_copy(ms[0])
    w = _weights(weights, len(ms))
    arr = (ctypes.c_void_p * len(ms))(*[m._h for m in ms])
    check(lib.mudsc_average(out._h, len(ms), arr, None if w is None else w.ctypes.data_as(F64P),
                            ctypes.byref(opts)))
    return out
