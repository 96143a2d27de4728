"""Stats: the activation statistics of a whole graph for N models
(mudsc_stats): one Accumulator per merge point, updated point by point,
merged set with set (shards of the calibration data, in any order), saved
to and loaded from one safetensors file (docs/stats-format.md), and handed
to a Matcher in one call (Matcher.set_stats, or mudsc.merge's
activations=).

A Stats is also a read-only mapping point name -> Accumulator (in the
graph's order), so code written for the dict that collect_activations
returned before keeps working.  The accumulators are views owned by the
set: they stay usable as long as any of them or the set is referenced.
"""
from __future__ import annotations

import ctypes
import os
from typing import Iterator, List, Mapping, Optional, Union

import numpy.typing as npt
import numpy as np

from ._handle import Handle
from ._lib import Owner, check, decode, encode, fspath, lib, take_bytes
from .accum import Accumulator, _options, features
from .graph import Graph

PointKey = Union[int, str]


def _no_free(ptr: int) -> None:
    """A point's accumulator belongs to its set."""


class Stats(Handle, Mapping[str, Accumulator]):
    """Statistics of every point of a graph for N models; see the module
    documentation."""

    def __init__(self, graph: Graph, n_models: int, replace_nonfinite: Optional[bool] = None,
                 max_lead: Optional[int] = None, threads: Optional[int] = None,
                 mode: Optional[str] = None) -> None:
        """One accumulator per point of graph for n_models >= 2 models, all
        with the same options (as Accumulator's; None: the library's
        defaults).  mode="cross": cross-block statistics (align only; saved
        as format_version 2)."""
        self._opts = _options(replace_nonfinite, max_lead, threads, mode)
        out = ctypes.c_void_p()
        check(lib.mudsc_stats_new(ctypes.byref(out), graph._h, n_models,
                                  ctypes.byref(self._opts)))
        self._adopt(out.value, lib.mudsc_stats_free)

    @property
    def n_models(self) -> int:
        """N."""
        return int(lib.mudsc_stats_models(self._h))

    @property
    def point_names(self) -> List[str]:
        """The points, in the graph's order."""
        return [self._info(p)[0] for p in range(len(self))]

    def _info(self, point: int):
        name, width = ctypes.c_char_p(), ctypes.c_int64()
        check(lib.mudsc_stats_point_at(ctypes.byref(name), ctypes.byref(width), self._h, point))
        return decode(name.value), width.value

    def _index(self, point: PointKey) -> int:
        if isinstance(point, str):
            out = ctypes.c_size_t()
            check(lib.mudsc_stats_point_find(ctypes.byref(out), self._h, encode(point, "point")))
            return out.value
        return int(point)

    def width(self, point: PointKey) -> int:
        """The point's width C."""
        return self._info(self._index(point))[1]

    def point(self, point: PointKey) -> Accumulator:
        """The accumulator of a point (by name or index): a view owned by the
        set, for the finalisation getters (correlation(), covariance(),
        means(), stddevs(), count()) or to_bytes() of one point."""
        out = ctypes.c_void_p()
        check(lib.mudsc_stats_point(ctypes.byref(out), self._h, self._index(point)))
        acc = Accumulator.__new__(Accumulator)
        acc._opts = self._opts
        acc._owner = Owner(out.value, _no_free, [self._owner])
        return acc

    def update(self, point: PointKey, model: int, array: npt.ArrayLike, axis: int = -1,
               dtype: Optional[str] = None) -> None:
        """Add a chunk of model `model`'s features at a point (by name or
        index), as Accumulator.update()."""
        arr = np.asarray(array)
        f = features(arr, axis, dtype)
        if isinstance(point, str):
            check(lib.mudsc_stats_update_named(self._h, encode(point, "point"), model,
                                               ctypes.byref(f)))
        else:
            check(lib.mudsc_stats_update(self._h, point, model, ctypes.byref(f)))

    def merge(self, other: "Stats") -> None:
        """Add other's statistics (over disjoint data, same graph and N) into
        this set, all points or none."""
        check(lib.mudsc_stats_merge(self._h, other._h))

    def to_bytes(self) -> bytes:
        """The set as safetensors bytes (docs/stats-format.md)."""
        buf, n = ctypes.c_void_p(), ctypes.c_size_t()
        check(lib.mudsc_stats_save_buffer(ctypes.byref(buf), ctypes.byref(n), self._h))
        return take_bytes(buf, n.value)

    def save(self, path: Union[str, "os.PathLike[str]"]) -> None:
        """Save the set as a safetensors file, atomically."""
        check(lib.mudsc_stats_save(self._h, fspath(path)))

    @classmethod
    def _wrap(cls, out: ctypes.c_void_p, opts) -> "Stats":
        s = cls.__new__(cls)
        s._opts = opts
        s._adopt(out.value, lib.mudsc_stats_free)
        return s

    @classmethod
    def from_bytes(cls, data: Union[bytes, bytearray, memoryview], graph: Graph,
                   n_models: int = 0, replace_nonfinite: Optional[bool] = None,
                   max_lead: Optional[int] = None, threads: Optional[int] = None) -> "Stats":
        """A set from to_bytes(), checked against graph (its points, names
        and widths) and n_models (0: the file's N): ParseError for a
        malformed file, MismatchError for another graph or N."""
        raw = bytes(data)
        opts = _options(replace_nonfinite, max_lead, threads)
        out = ctypes.c_void_p()
        check(lib.mudsc_stats_load_buffer(ctypes.byref(out), raw, len(raw), graph._h, n_models,
                                          ctypes.byref(opts)))
        return cls._wrap(out, opts)

    @classmethod
    def from_bytes_like(cls, data: Union[bytes, bytearray, memoryview], like: "Stats",
                        replace_nonfinite: Optional[bool] = None, max_lead: Optional[int] = None,
                        threads: Optional[int] = None) -> "Stats":
        """A set from to_bytes(), checked against the set `like` (its
        points, names, widths and N) instead of a graph, for code that holds
        a set but not its graph: MismatchError naming what differs."""
        raw = bytes(data)
        opts = _options(replace_nonfinite, max_lead, threads)
        out = ctypes.c_void_p()
        check(lib.mudsc_stats_load_buffer_like(ctypes.byref(out), raw, len(raw), like._h,
                                               ctypes.byref(opts)))
        return cls._wrap(out, opts)

    def replace_bytes(self, data: Union[bytes, bytearray, memoryview]) -> None:
        """Replace every point's statistics by those of to_bytes() bytes of a
        set like this one; all or nothing (the set is unchanged on error)."""
        raw = bytes(data)
        check(lib.mudsc_stats_replace_buffer(self._h, raw, len(raw)))

    @classmethod
    def load(cls, path: Union[str, "os.PathLike[str]"], graph: Graph, n_models: int = 0,
             replace_nonfinite: Optional[bool] = None, max_lead: Optional[int] = None,
             threads: Optional[int] = None) -> "Stats":
        """A set from a file written by save(); checks as from_bytes()."""
        opts = _options(replace_nonfinite, max_lead, threads)
        out = ctypes.c_void_p()
        check(lib.mudsc_stats_load(ctypes.byref(out), fspath(path), graph._h, n_models,
                                   ctypes.byref(opts)))
        return cls._wrap(out, opts)

    # ---- the mapping point name -> Accumulator --------------------------

    def __getitem__(self, name: str) -> Accumulator:
        if not isinstance(name, str):
            raise KeyError(name)
        out = ctypes.c_size_t()
        if lib.mudsc_stats_point_find(ctypes.byref(out), self._h,
                                      encode(name, "point")) < 0:
            raise KeyError(name)
        return self.point(out.value)

    def __iter__(self) -> Iterator[str]:
        return iter(self.point_names)

    def __len__(self) -> int:
        return int(lib.mudsc_stats_point_count(self._h))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.point_names

    def __repr__(self) -> str:
        if self.closed:
            return "<mudsc.Stats closed>"
        return f"<mudsc.Stats {self.n_models} models, {len(self)} points>"
