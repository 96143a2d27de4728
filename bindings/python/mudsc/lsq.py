"""The least-squares correction of one merged layer (include/mudsc/correct.h,
mudsc_lsq_*; docs/algorithm.md section 23), PLeaS-style: the merged layer's
weight and bias that best map the merged network's inputs to the weighted
mean of the source models' outputs (in merged coordinates, through the
matcher's correspondence), from streamed cross products.

    >>> lsq = mudsc.Lsq(matcher, merged, "layers.0")
    >>> for x, ys in chunks:            # merged inputs, the N source outputs
    ...     lsq.update(x, ys)
    >>> corrected = lsq.solve(merged)   # a new Model

Lsq.layer(merged, "fc.weight", "fc.bias", n_models) is the same for a layer
whose units correspond by index (no point matches them: a shared output
layer); mudsc.torch.lsq_layer drives it over nn.Modules.

mudsc.torch.lsq_correct drives it layer by layer over nn.Modules.
"""
from __future__ import annotations

import ctypes
from typing import Any, Optional, Sequence

import numpy as np
import numpy.typing as npt

from . import errors
from ._handle import Handle
from ._lib import F64P, Features, LsqOptions, check, defaults, lib
from .accum import features
from .correct import _matcher_of
from .model import Model

#: the library's default relative ridge (mudsc_lsq_options_init)
DEFAULT_RIDGE: float = defaults(LsqOptions).ridge


class Lsq(Handle):
    """The statistics of one point's layer (mudsc_lsq_new): G = sum x~x~',
    H = sum x~t' and sum |t|^2 over the observations, x~ = (x, 1)."""

    def __init__(self, matcher: Any, merged: Model, point: str,
                 weights: Optional[Sequence[float]] = None) -> None:
        """matcher: a Matcher that has run (or mudsc.merge's MergeResult);
        merged: the merged Model (its producer names and shapes); point: the
        point's name; weights: the merge weights (default 1/N)."""
        m = _matcher_of(matcher)
        self._w = None if weights is None else np.ascontiguousarray(weights, dtype=np.float64)
        if self._w is not None and self._w.shape != (m.n_models,):
            raise errors.InvalidArgumentError.make(
                f"Lsq: need {m.n_models} weights, got shape {self._w.shape}")
        out = ctypes.c_void_p()
        check(lib.mudsc_lsq_new(ctypes.byref(out), m._h, m.graph._h, merged._h,
                                point.encode(),
                                None if self._w is None else self._w.ctypes.data_as(F64P)))
        self._adopt(out.value, lib.mudsc_lsq_free, (m, m.graph))
        self.n_models = m.n_models
        self.point = point

    @classmethod
    def layer(cls, merged: Model, weight: str, bias: str, n_models: int,
              weights: Optional[Sequence[float]] = None) -> "Lsq":
        """The statistics of a layer whose units correspond by index in all
        n_models models, so that no point matches them (mudsc_lsq_layer_new;
        e.g. an output layer the models share): merged unit j's target is the
        weighted mean of unit j of the outputs given to update().  weight,
        bias: the layer's tensor names in merged; weights: default 1/N."""
        self = cls.__new__(cls)
        self._w = None if weights is None else np.ascontiguousarray(weights, dtype=np.float64)
        if self._w is not None and self._w.shape != (n_models,):
            raise errors.InvalidArgumentError.make(
                f"Lsq.layer: need {n_models} weights, got shape {self._w.shape}")
        out = ctypes.c_void_p()
        check(lib.mudsc_lsq_layer_new(ctypes.byref(out), merged._h, weight.encode(),
                                      bias.encode(), n_models,
                                      None if self._w is None else self._w.ctypes.data_as(F64P)))
        self._adopt(out.value, lib.mudsc_lsq_free)
        self.n_models = n_models
        self.point = None
        return self

    @property
    def rows(self) -> int:
        """Observations added so far (mudsc_lsq_rows)."""
        return int(lib.mudsc_lsq_rows(self._h))

    def update(self, inputs: npt.ArrayLike, outputs: Sequence[npt.ArrayLike],
               axis: int = -1) -> None:
        """Add a chunk (mudsc_lsq_update): inputs, the merged network's
        inputs to the layer (D features along `axis`; conv: im2col patches),
        and outputs, the N source models' outputs of the layer on the same
        inputs (C features along `axis`, each model's own unit order).  All
        or nothing."""
        if len(outputs) != self.n_models:
            raise errors.MismatchError.make(
                f"update: {len(outputs)} outputs for {self.n_models} models")
        x = features(np.asarray(inputs), axis)
        ys = [features(np.asarray(y), axis) for y in outputs]  # alive during the call
        views = (Features * self.n_models)(*ys)
        check(lib.mudsc_lsq_update(self._h, ctypes.byref(x), views, self.n_models))
        del ys

    def error(self, model: Model) -> float:
        """The mean squared error of model's layer against the targets over
        the observations so far (mudsc_lsq_error)."""
        e = ctypes.c_double()
        check(lib.mudsc_lsq_error(ctypes.byref(e), self._h, model._h))
        return float(e.value)

    def solve(self, merged: Model, ridge: Optional[float] = None) -> Model:
        """A new Model: merged with the point's weight and bias solved
        (mudsc_lsq_solve); ridge: the relative ridge (default DEFAULT_RIDGE)."""
        o = None
        if ridge is not None:
            o = defaults(LsqOptions)
            o.ridge = ridge
        out = ctypes.c_void_p()
        check(lib.mudsc_lsq_solve(ctypes.byref(out), self._h, merged._h,
                                  None if o is None else ctypes.byref(o)))
        return Model._wrap(out.value)
