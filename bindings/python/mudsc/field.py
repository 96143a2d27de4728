"""Field: ModelGiF distances of N models by their gradient fields
(mudsc_field, include/mudsc/field.h; docs/algorithm.md section 14).

The host opens a batch of B inputs (begin(inputs, baselines)) and streams
each model's input-gradients at the path points x_k = b + t_k (x - b), in
step-major order: for model i, step 1's B gradients, then step 2's, ...
(update(model, grads), grads of shape (B, D), (S, B, D) or (B, ...) whose
trailing axes flatten to D).  The library weights and accumulates them
along the path, multiplies by x - b and keeps the pairwise sums of
1 - cos in double.  distances() is the N x N matrix.  Fields merge (shards
of the inputs, any order) and save to bytes (docs/field-format.md).

quadrature(rule, steps) gives the rule's nodes and weights on [0, 1].
"""
from __future__ import annotations

import ctypes
import os
from typing import Optional, Tuple, Union

import numpy as np
import numpy.typing as npt

from . import errors
from ._handle import Handle
from ._lib import F64P, FieldOptions, check, defaults, fspath, lib, read_array, take_bytes
from .accum import features

#: rule names -> mudsc_quad_rule
RULES = {"gauss-legendre": 0, "riemann-left": 1, "riemann-right": 2, "riemann-middle": 3,
         "riemann-trapezoid": 4}


def _rule(rule: Union[str, int]) -> int:
    if isinstance(rule, str):
        if rule not in RULES:
            raise errors.InvalidArgumentError.make(
                f"rule {rule!r} is not one of {', '.join(RULES)}")
        return RULES[rule]
    return int(rule)


def quadrature(rule: Union[str, int] = "gauss-legendre", steps: int = 50
               ) -> Tuple[np.ndarray, np.ndarray]:
    """(nodes, weights) of the rule on [0, 1] with `steps` points
    (mudsc_quadrature: Gauss-Legendre by Golub-Welsch, or a Riemann rule)."""
    n = int(steps)
    t = np.empty(max(n, 1))
    w = np.empty(max(n, 1))
    check(lib.mudsc_quadrature(t.ctypes.data_as(F64P), w.ctypes.data_as(F64P), _rule(rule), n))
    return t, w


def _options(rule, steps, keep_inputs, replace_nonfinite, max_lead, block_rows) -> FieldOptions:
    o = defaults(FieldOptions)
    if rule is not None:
        o.rule = _rule(rule)
    if steps is not None:
        o.steps = int(steps)
    if keep_inputs is not None:
        o.keep_inputs = 1 if keep_inputs else 0
    if replace_nonfinite is not None:
        o.nonfinite = 1 if replace_nonfinite else 0
    if max_lead is not None:
        o.max_lead = int(max_lead)
    if block_rows is not None:
        o.block_rows = int(block_rows)
    return o


def _rows(array: npt.ArrayLike, d: int) -> np.ndarray:
    """An array whose trailing axes hold D values, viewed as (..., D) when
    they are not one axis already (a reshape that copies only if it must)."""
    arr = np.asarray(array)
    if arr.ndim >= 1 and arr.shape[-1] == d:
        return arr
    lead, tail = 1, 1
    for i in range(arr.ndim - 1, -1, -1):
        tail *= arr.shape[i]
        if tail == d:
            return arr.reshape(arr.shape[:i] + (d,))
    raise errors.ShapeError.make(f"array of shape {arr.shape}: no trailing axes hold the "
                                 f"field's {d} input values")


class Field(Handle):
    """Field distances of n_models models whose inputs have input_size
    values; see the module documentation."""

    def __init__(self, n_models: int, input_size: int, rule: Union[str, int, None] = None,
                 steps: Optional[int] = None, keep_inputs: Optional[bool] = None,
                 replace_nonfinite: Optional[bool] = None, max_lead: Optional[int] = None,
                 block_rows: Optional[int] = None) -> None:
        """Options left None take the library's defaults (Gauss-Legendre,
        50 steps, no per-input detail, NumericError on NaN/inf gradients)."""
        self._opts = _options(rule, steps, keep_inputs, replace_nonfinite, max_lead, block_rows)
        out = ctypes.c_void_p()
        check(lib.mudsc_field_new(ctypes.byref(out), n_models, input_size,
                                  ctypes.byref(self._opts)))
        self._adopt(out.value, lib.mudsc_field_free)

    @property
    def n_models(self) -> int:
        return int(lib.mudsc_field_models(self._h))

    @property
    def input_size(self) -> int:
        return int(lib.mudsc_field_input_size(self._h))

    @property
    def steps(self) -> int:
        return int(lib.mudsc_field_steps(self._h))

    @property
    def rule(self) -> str:
        code = int(lib.mudsc_field_rule(self._h))
        return next(k for k, v in RULES.items() if v == code)

    @property
    def inputs(self) -> int:
        """Inputs of the closed batches (merged shards included)."""
        return int(lib.mudsc_field_inputs(self._h))

    def points(self) -> Tuple[np.ndarray, np.ndarray]:
        """(nodes t_k, weights w_k) of the path."""
        k = self.steps
        t, w = np.empty(k), np.empty(k)
        check(lib.mudsc_field_points(t.ctypes.data_as(F64P), w.ctypes.data_as(F64P), self._h))
        return t, w

    def begin(self, inputs: npt.ArrayLike, baselines: Optional[npt.ArrayLike] = None) -> None:
        """Open a batch: inputs (B, ...) whose trailing axes hold D values;
        baselines of the same shape, or None (zeros)."""
        d = self.input_size
        x = features(_rows(inputs, d), -1)
        b = features(_rows(baselines, d), -1) if baselines is not None else None
        check(lib.mudsc_field_begin(self._h, ctypes.byref(x),
                                    ctypes.byref(b) if b is not None else None))

    def update(self, model: int, gradients: npt.ArrayLike) -> None:
        """Model `model`'s next gradients of the open batch, step-major
        ((B, D) for one step, (S, B, D) for S steps, or trailing axes of D
        values)."""
        g = features(_rows(gradients, self.input_size), -1)
        check(lib.mudsc_field_update(self._h, model, ctypes.byref(g)))

    def merge(self, other: "Field") -> None:
        """Add other's sums (a shard of other inputs) into this field."""
        check(lib.mudsc_field_merge(self._h, other._h))

    def distances(self) -> np.ndarray:
        """The N x N distances: mean over inputs and steps of 1 - cos."""
        n = self.n_models
        return read_array(lambda o, c, nd: lib.mudsc_field_distances(o, c, nd, self._h),
                          F64P, np.float64).reshape(n, n)

    def step_distances(self) -> np.ndarray:
        """(K, N, N): the mean over inputs at each step."""
        n = self.n_models
        return read_array(lambda o, c, nd: lib.mudsc_field_step_distances(o, c, nd, self._h),
                          F64P, np.float64).reshape(-1, n, n)

    def input_distances(self) -> np.ndarray:
        """(M, N, N): the mean over steps of each input (keep_inputs only)."""
        n = self.n_models
        return read_array(lambda o, c, nd: lib.mudsc_field_input_distances(o, c, nd, self._h),
                          F64P, np.float64).reshape(-1, n, n)

    def to_bytes(self) -> bytes:
        """The sums as bytes (docs/field-format.md)."""
        buf, n = ctypes.c_void_p(), ctypes.c_size_t()
        check(lib.mudsc_field_save_buffer(ctypes.byref(buf), ctypes.byref(n), self._h))
        return take_bytes(buf, n.value)

    def save(self, path: Union[str, "os.PathLike[str]"]) -> None:
        """Save atomically to a file."""
        check(lib.mudsc_field_save(self._h, fspath(path)))

    @classmethod
    def _wrap(cls, out: ctypes.c_void_p, opts: FieldOptions) -> "Field":
        f = cls.__new__(cls)
        f._opts = opts
        f._adopt(out.value, lib.mudsc_field_free)
        return f

    @classmethod
    def from_bytes(cls, data: Union[bytes, bytearray, memoryview],
                   replace_nonfinite: Optional[bool] = None, max_lead: Optional[int] = None,
                   block_rows: Optional[int] = None) -> "Field":
        """A field from to_bytes() (ParseError for malformed bytes)."""
        raw = bytes(data)
        opts = _options(None, None, None, replace_nonfinite, max_lead, block_rows)
        out = ctypes.c_void_p()
        check(lib.mudsc_field_load_buffer(ctypes.byref(out), raw, len(raw), ctypes.byref(opts)))
        return cls._wrap(out, opts)

    @classmethod
    def load(cls, path: Union[str, "os.PathLike[str]"], replace_nonfinite: Optional[bool] = None,
             max_lead: Optional[int] = None, block_rows: Optional[int] = None) -> "Field":
        """A field from a file written by save()."""
        opts = _options(None, None, None, replace_nonfinite, max_lead, block_rows)
        out = ctypes.c_void_p()
        check(lib.mudsc_field_load(ctypes.byref(out), fspath(path), ctypes.byref(opts)))
        return cls._wrap(out, opts)
