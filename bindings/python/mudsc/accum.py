"""Accumulator: exact streaming activation statistics of one merge point for
N models (mudsc_accum).

Features go in as NumPy arrays of any shape and strides, without a copy:
the library reads the array's memory through its element strides during
update().
"""
from __future__ import annotations

import ctypes
from typing import Optional, Union

import numpy as np
import numpy.typing as npt

from . import errors
from ._handle import Handle
from ._lib import (F64P, MAX_RANK, AccumOptions, Features, check, defaults, lib, read_array,
                   take_bytes)
from .model import DTYPE_CODES, dtype_code, dtype_size, native

#: dtypes update() takes
FLOAT_CODES = {DTYPE_CODES[n] for n in ("F16", "BF16", "F32", "F64")}
NONFINITE_ERROR, NONFINITE_ZERO = 0, 1
#: mudsc_stats_mode: what an accumulator keeps ("full": NC x NC; "cross":
#: model 0 against each model, and every unit's moments: align only)
MODES = {"full": 0, "cross": 1}


def _options(replace_nonfinite: Optional[bool], max_lead: Optional[int],
             threads: Optional[int], mode: Optional[str] = None) -> AccumOptions:
    """The library's defaults with the fields given (None: keep the default)."""
    o = defaults(AccumOptions)
    if mode is not None:
        if mode not in MODES:
            raise errors.InvalidArgumentError.make(
                f"mode: {mode!r} is not one of {sorted(MODES)}")
        o.mode = MODES[mode]
    if replace_nonfinite is not None:
        o.nonfinite = NONFINITE_ZERO if replace_nonfinite else NONFINITE_ERROR
    if max_lead is not None:
        o.max_lead = max_lead
    if threads is not None:
        o.threads = threads
    return o


def _set_block_rows(accum: "Accumulator", block_rows: Optional[int]) -> None:
    """The experimental tuning call (UnsupportedError with another release)."""
    if block_rows is not None:
        check(lib.mudsc_accum_set_block_rows(accum._h, block_rows))


#: the library's default of how far one model may run ahead (observations)
DEFAULT_MAX_LEAD: int = defaults(AccumOptions).max_lead


def features(array: np.ndarray, axis: int, dtype: Optional[str] = None) -> Features:
    """A mudsc_features view of array (borrowed: keep array alive while the
    result is used).  Element strides are the byte strides divided by the
    element size; arrays whose strides are not multiples of it (possible only
    for views built by hand) are copied."""
    arr = native(array)
    code = dtype_code(dtype) if dtype is not None else dtype_code(arr.dtype)
    if code not in FLOAT_CODES:
        raise errors.InvalidArgumentError.make(
            f"update: features must be F16, BF16, F32 or F64, got {arr.dtype}")
    if dtype_size(code) != arr.itemsize:
        raise errors.InvalidArgumentError.make(
            f"update: dtype {dtype} has {dtype_size(code)}-byte elements, the array "
            f"{arr.itemsize}-byte ones")
    if arr.ndim > MAX_RANK:
        raise errors.ShapeError.make(f"update: rank {arr.ndim} exceeds {MAX_RANK}")
    if any(s % arr.itemsize for s in arr.strides):
        arr = np.ascontiguousarray(arr)
    f = Features()
    f.dtype, f.rank, f.feature_axis = code, arr.ndim, axis
    for d, n in enumerate(arr.shape):
        f.shape[d] = n
    strides = (ctypes.c_int64 * max(arr.ndim, 1))(*[s // arr.itemsize for s in arr.strides])
    f.strides = ctypes.cast(strides, ctypes.POINTER(ctypes.c_int64))
    f.data = arr.ctypes.data if arr.size else None
    f._keep = (arr, strides)  # alive as long as the struct
    return f


class Accumulator(Handle):
    """Streaming, mergeable statistics of N models' features at one point:
    the NC x NC Pearson correlation (and covariance, means, standard
    deviations) of the stacked features, exact over the whole stream.

    Model i's k-th observation must be the same input as model j's k-th.
    Chunks of different models may interleave; a model may run ahead of the
    slowest one by at most max_lead observations (default DEFAULT_MAX_LEAD,
    the library's).
    """

    def __init__(self, n_models: int, width: int, replace_nonfinite: Optional[bool] = None,
                 max_lead: Optional[int] = None, block_rows: Optional[int] = None,
                 threads: Optional[int] = None, mode: Optional[str] = None) -> None:
        """n_models >= 2 models of `width` features.  Options left None take
        the library's defaults (mudsc_accum_options_init): replace_nonfinite:
        NaN/inf inputs become 0 instead of raising NumericError; max_lead:
        how far one model may run ahead; threads: the accumulator's thread
        count (0: process-wide).  block_rows: observations per BLAS block,
        through the experimental mudsc_accum_set_block_rows (UnsupportedError
        with a library of another release).  mode: "full" (default) or
        "cross" (cross-block statistics: model 0 against each model and every
        unit's moments, 8((N-1)C^2 + 2NC) bytes; correlation() and
        covariance() then raise UnsupportedError, use cross_correlation())."""
        self._opts = _options(replace_nonfinite, max_lead, threads, mode)
        out = ctypes.c_void_p()
        check(lib.mudsc_accum_new(ctypes.byref(out), n_models, width, ctypes.byref(self._opts)))
        self._adopt(out.value, lib.mudsc_accum_free)
        _set_block_rows(self, block_rows)

    @property
    def n_models(self) -> int:
        """N."""
        return int(lib.mudsc_accum_models(self._h))

    @property
    def width(self) -> int:
        """C, the features per model."""
        return int(lib.mudsc_accum_width(self._h))

    @property
    def mode(self) -> str:
        """"full" or "cross" (mudsc_accum_mode)."""
        code = int(lib.mudsc_accum_mode(self._h))
        return next(k for k, v in MODES.items() if v == code)

    def update(self, model: int, array: npt.ArrayLike, axis: int = -1,
               dtype: Optional[str] = None) -> None:
        """Add a chunk of model `model`'s features: axis `axis` of the array
        holds the C features, every index of the other axes (C order) is one
        observation (NCHW conv features: axis=1).  F16, F32 or F64 arrays of
        any strides are read in place; a uint16 array with dtype="BF16" holds
        bfloat16 bits.  Nothing is consumed on error."""
        arr = np.asarray(array)
        f = features(arr, axis, dtype)
        check(lib.mudsc_accum_update(self._h, model, ctypes.byref(f)))

    def count(self, model: Optional[int] = None) -> int:
        """Observations model `model` delivered, or (None) the number every
        model delivered: the count the statistics cover."""
        n = ctypes.c_int64()
        check(lib.mudsc_accum_count(ctypes.byref(n), self._h, -1 if model is None else model))
        return n.value

    def _result(self, fn: str) -> np.ndarray:
        h = self._h
        return read_array(lambda out, cap, needed: getattr(lib, fn)(out, cap, needed, h), F64P,
                          np.float64)

    def _nc(self) -> int:
        return self.n_models * self.width

    def correlation(self) -> np.ndarray:
        """The NC x NC Pearson correlation (unit u = i*C + c), exactly
        symmetric, with the denominator floored at 1e-7.  StateError before any
        observation, MismatchError if the models' counts differ."""
        nc = self._nc()
        return self._result("mudsc_accum_correlation").reshape(nc, nc)

    def covariance(self) -> np.ndarray:
        """The NC x NC population covariance (divided by n)."""
        nc = self._nc()
        return self._result("mudsc_accum_covariance").reshape(nc, nc)

    def cross_correlation(self) -> np.ndarray:
        """The cross blocks of the correlation, shape (N-1, C, C): [i-1, a, b]
        is model 0's unit a against model i's unit b (correlation()[a, i*C+b]
        bit for bit in the full mode); every mode."""
        n, c = self.n_models, self.width
        return self._result("mudsc_accum_cross_correlation").reshape(n - 1, c, c)

    def means(self) -> np.ndarray:
        """The NC means."""
        return self._result("mudsc_accum_means")

    def stddevs(self) -> np.ndarray:
        """The NC population standard deviations."""
        return self._result("mudsc_accum_stddevs")

    def merge(self, other: "Accumulator") -> None:
        """Add other's statistics (over disjoint data) into this one."""
        check(lib.mudsc_accum_merge(self._h, other._h))

    def to_bytes(self) -> bytes:
        """The statistics in the versioned byte format of mudsc_accum_serialize()."""
        buf, n = ctypes.c_void_p(), ctypes.c_size_t()
        check(lib.mudsc_accum_serialize(ctypes.byref(buf), ctypes.byref(n), self._h))
        return take_bytes(buf, n.value)

    @classmethod
    def from_bytes(cls, data: Union[bytes, bytearray, memoryview],
                   replace_nonfinite: Optional[bool] = None, max_lead: Optional[int] = None,
                   block_rows: Optional[int] = None,
                   threads: Optional[int] = None) -> "Accumulator":
        """Rebuild an accumulator from to_bytes() (ParseError naming the rule
        broken); it accepts further updates and merges.  Options as in
        Accumulator()."""
        raw = bytes(data)
        a = cls.__new__(cls)
        a._opts = _options(replace_nonfinite, max_lead, threads)
        out = ctypes.c_void_p()
        check(lib.mudsc_accum_deserialize(ctypes.byref(out), raw, len(raw), ctypes.byref(a._opts)))
        a._adopt(out.value, lib.mudsc_accum_free)
        _set_block_rows(a, block_rows)
        return a

    def __repr__(self) -> str:
        if self.closed:
            return "<mudsc.Accumulator closed>"
        return (f"<mudsc.Accumulator {self.n_models} models x {self.width} features, "
                f"{self.count()} observations>")
