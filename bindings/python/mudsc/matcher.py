"""Matcher: MuDSC over N models described by a graph (mudsc_matcher).

S = alpha*S_w + (1-alpha)*S_a per point; without activations weight
matching; with activations and alpha = 0 activation-only matching; else
activation-initialised coordinate descent keeping the best sweep
(docs/algorithm.md section 10).
"""
from __future__ import annotations

import ctypes
import os  # noqa: F401 - os.PathLike in annotations
from typing import Any, Callable, List, Mapping, NamedTuple, Optional, Sequence, Union

import numpy as np
import numpy.typing as npt

from . import errors
from ._handle import Handle
from ._lib import (F64P, I64P, PROGRESS_FN, SCORE_FN, STATS_POINT_FN, MatcherOptions, check,
                   defaults, fspath, lib, read_array)
from .accum import Accumulator
from .graph import Graph
from .model import Model, as_model
from .stats import Stats

METHODS = {"align": 0, "zip": 1, "cca": 2}
METHOD_NAMES = {v: k for k, v in METHODS.items()}
SIMILARITIES = {"correlation": 0, "cosine": 1}
PRECISIONS = {"float32": 0, "float64": 1}
SWEEP_ORDERS = {"random": 0, "graph_first": 1}
MATRIX_KINDS = {"merge": 0, "unmerge": 1}

#: progress(point, sweep, score) -> truthy to cancel
ProgressFn = Callable[[int, int, float], Optional[bool]]


class PointResult(NamedTuple):
    """A point's result: merged width C' (C for align) and the mean matched
    weight similarity, activation similarity and combined similarity (NaN
    where not computed)."""
    merged_width: int
    weight: float
    activation: float
    combined: float


def _options(fields: Mapping[str, object]) -> MatcherOptions:
    """The library's defaults with the fields given (None: keep the default)."""
    o = defaults(MatcherOptions)
    for name, value in fields.items():
        if value is None:
            continue
        table = {"method": METHODS, "similarity": SIMILARITIES,
                 "weight_precision": PRECISIONS, "sweep_order": SWEEP_ORDERS}.get(name)
        if table is not None:
            if value not in table:
                raise errors.InvalidArgumentError.make(
                    f"Matcher: {name} {value!r} is not one of {', '.join(table)}")
            value = table[value]
        elif name == "use_groups":
            value = int(bool(value))
        setattr(o, name, value)
    return o


def _trampoline(fn: ProgressFn, error: List[Optional[BaseException]]
                ) -> Callable[[int, int, float, int], int]:
    """The C progress callback over fn: an exception fn raises cancels the
    run and is stored in error[0]."""
    def call(point: int, sweep: int, score: float, user: int) -> int:
        try:
            return 1 if fn(point, sweep, score) else 0
        except BaseException as exc:  # noqa: BLE001 - re-raised by Matcher.run()
            error[0] = exc
            return 1
    return call


class Matcher(Handle):
    """Runs MuDSC on models (Models or dicts of NumPy arrays) described by a
    Graph.

    The library freezes the models (later Model.add() raises StateError);
    the matcher keeps the graph and the models alive.
    """

    def __init__(self, graph: Graph, models: Sequence[Union[Model, Mapping[str, npt.ArrayLike]]],
                 method: Optional[str] = None, alpha: Optional[float] = None,
                 similarity: Optional[str] = None, zip_r: Optional[float] = None,
                 zip_a: Optional[float] = None, zip_b: Optional[float] = None,
                 use_groups: Optional[bool] = None, max_iter: Optional[int] = None,
                 patience: Optional[int] = None, seed: Optional[int] = None,
                 threads: Optional[int] = None, eps: Optional[float] = None,
                 progress: Optional[ProgressFn] = None,
                 max_memory: Optional[int] = None,
                 weight_precision: Optional[str] = None,
                 cca_ridge: Optional[float] = None,
                 sweep_order: Optional[str] = None) -> None:
        """Every option left None takes the library's default
        (mudsc_matcher_options_init, matcher.h).  method "align"
        (permutations onto model 0), "zip" or "cca" (dense CCA transforms
        onto model 0 from the activation covariances, docs/algorithm.md
        section 22: needs full-mode activations for every point; cca_ridge,
        default 0.1, is its relative ridge); alpha: weight of S_w in
        [0, 1]; similarity "correlation" or "cosine"; zip_r, zip_a, zip_b:
        zip's reduce ratio, merged-row factor and within-model budget;
        use_groups: respect the points' groups; max_iter, patience: sweeps;
        seed: the point order; threads: the matcher's thread count (0:
        mudsc.threads()), for its own loops and, with BLIS, its BLAS calls;
        OpenBLAS's count stays the process-wide one (mudsc.set_threads());
        eps: similarity floor; progress(point, sweep, score): called
        after each point is re-matched, return True to cancel (run() then
        raises CancelledError; an exception raised by progress cancels too and
        is re-raised by run()); max_memory: the memory budget in bytes (0: no
        limit; default 8 GiB): a problem whose run or merge would allocate
        more raises OutOfMemoryError here, naming the figure (matcher.h,
        MUDSC_MATCHER_MAX_MEMORY_DEFAULT); weight_precision "float32"
        (default: S_w's products by sgemm over unit rows, each entry within
        (D + 2) * 2**-24 of float64, D the point's feature length) or
        "float64" (docs/algorithm.md section 21); sweep_order "random"
        (default: every sweep in a random order drawn from seed, as the
        paper) or "graph_first" (the first sweep in the graph's point order,
        the network's order for traced and built graphs; the later sweeps
        random): recovers a permuted copy where random orders stay near the
        identity (docs/algorithm.md section 10)."""
        self.graph = graph
        self.models: List[Model] = [as_model(m) for m in models]
        # progress's exception, kept in a list the callback closes over (not
        # self: that would make a reference cycle through the handle's owner)
        self._progress_error: List[Optional[BaseException]] = [None]
        self._progress = (PROGRESS_FN(_trampoline(progress, self._progress_error))
                          if progress else None)
        opts = _options({
            "method": method, "alpha": alpha, "similarity": similarity, "zip_r": zip_r,
            "zip_a": zip_a, "zip_b": zip_b, "use_groups": use_groups, "max_iter": max_iter,
            "patience": patience, "seed": seed, "threads": threads, "eps": eps,
            "max_memory": max_memory, "weight_precision": weight_precision,
            "cca_ridge": cca_ridge, "sweep_order": sweep_order})
        if self._progress is not None:
            opts.progress = self._progress
        #: the options the matcher was created with (a copy)
        self.options = MatcherOptions.from_buffer_copy(opts)
        arr = (ctypes.c_void_p * max(len(self.models), 1))(*[m._h for m in self.models])
        out = ctypes.c_void_p()
        check(lib.mudsc_matcher_new(ctypes.byref(out), graph._h, arr, len(self.models),
                                    ctypes.byref(opts)))
        # The C matcher points into the graph and models: keep their owners.
        self._adopt(out.value, lib.mudsc_matcher_free,
                    [graph._owner, self._progress] + [m._owner for m in self.models])

    @property
    def n_models(self) -> int:
        """N."""
        return len(self.models)

    @property
    def method(self) -> str:
        """"align", "zip" or "cca"."""
        return METHOD_NAMES[self.options.method]

    def _point(self, point: Union[int, str]) -> int:
        return self.graph.index(point)

    def _width(self, point: Union[int, str]) -> int:
        return self.graph.point(point).width

    # ---- activations --------------------------------------------------------

    def set_activations(self, point: Union[int, str], accumulator: Accumulator) -> None:
        """Give a point (index or name) its activation statistics: the
        accumulator's correlation is copied.  Activations must be given for
        every point or none (run() checks)."""
        check(lib.mudsc_matcher_set_activations(self._h, self._point(point), accumulator._h))

    def set_stats(self, stats: Stats) -> None:
        """Give every point its activation statistics from a Stats set in one
        call (mudsc_matcher_set_stats): points are found by name, widths and
        N must agree (MismatchError); all or nothing.  Read on demand: the
        matcher keeps the set's file bytes and computes a point's S_a when it
        matches the point (the set may be closed afterwards).  A cross-block
        set (mode="cross") serves align; zip raises UnsupportedError."""
        check(lib.mudsc_matcher_set_stats(self._h, stats._h))
        self._stats_source = None

    def set_stats_file(self, path: Union[str, "os.PathLike[str]"]) -> None:
        """Every point's activation statistics from a statistics file
        (Stats.save), mapped and read a point at a time when the point is
        matched (mudsc_matcher_set_stats_file); the file must stay unchanged
        while the matcher lives."""
        check(lib.mudsc_matcher_set_stats_file(self._h, fspath(path)))
        self._stats_source = None

    def set_stats_callback(self, fn: Callable[[int, str, int], Accumulator]) -> None:
        """Statistics on demand from the host: fn(point, name, width) returns
        that point's Accumulator whenever run() matches the point
        (mudsc_matcher_set_stats_callback).  An exception in fn makes run()
        raise InvalidArgumentError naming the point, chained from it."""
        keep: List[Any] = []

        def trampoline(out: Any, point: int, name: bytes, width: int, user: Any) -> int:
            try:
                acc = fn(int(point), name.decode(), int(width))
                keep[:] = [acc]  # alive until the next call
                out[0] = acc._h
                return 0
            except Exception as e:  # noqa: BLE001 -- reported through run()
                self._stats_error = e
                return -1

        cb = STATS_POINT_FN(trampoline)
        check(lib.mudsc_matcher_set_stats_callback(self._h, cb, None))
        self._stats_source = (cb, keep)

    def set_activation_similarity(self, point: Union[int, str], S: npt.ArrayLike) -> None:
        """Give a point an NC x NC activation similarity computed by the host
        (finite, exactly symmetric; copied); for method "cca" the stacked
        covariance."""
        arr = np.ascontiguousarray(S, dtype=np.float64)
        check(lib.mudsc_matcher_set_activation_similarity(
            self._h, self._point(point), arr.ctypes.data_as(F64P), arr.size))

    # ---- running ----------------------------------------------------------------

    def run(self) -> None:
        """Run the matching.  StateError if only some points have
        activations; CancelledError (or progress's own exception) if
        progress cancelled; the previous results are kept on error."""
        self._progress_error[0] = None
        self._stats_error: Optional[BaseException] = None
        try:
            check(lib.mudsc_matcher_run(self._h))
        except errors.InvalidArgumentError as e:
            if self._stats_error is not None:
                raise e from self._stats_error
            raise
        except errors.CancelledError:
            exc, self._progress_error[0] = self._progress_error[0], None
            if exc is not None:
                raise exc
            raise

    def _score_callback(self, score: Callable[[Model, float], float],
                        error: List[Optional[BaseException]]) -> Any:
        def call(out, model_ptr, alpha, user):
            try:
                borrowed = Model.__new__(Model)
                borrowed._adopt(model_ptr, lambda p: None)
                mine = Model.from_bytes(borrowed.to_bytes(), copy=True)
                borrowed.close()
                out[0] = float(score(mine, alpha))
                return 0
            except BaseException as exc:  # re-raised after the C call returns
                error[0] = exc
                return 1
        return SCORE_FN(call)

    def _search_weights(self, weights: Optional[Sequence[float]], fn: str) -> Any:
        w = None if weights is None else np.ascontiguousarray(weights, dtype=np.float64)
        if w is not None and w.shape != (self.n_models,):
            raise errors.InvalidArgumentError.make(
                f"{fn}: need {self.n_models} weights, got shape {w.shape}")
        return w

    def search_alpha(self, alphas: Sequence[float], score: Callable[[Model, float], float],
                     weights: Optional[Sequence[float]] = None) -> "tuple[float, List[float]]":
        """Alpha search (mudsc_matcher_search_alpha): for each alpha, run,
        merge with weights and score(merged_model, alpha) -> float (higher is
        better; the Model is the caller's copy).  The activation statistics
        and weight features are prepared once for every candidate.  The
        matcher keeps the first best candidate's results (and alpha).
        Returns (best alpha, every candidate's score).  An exception raised
        by score stops the search and is re-raised; the matcher then keeps
        the results it had before."""
        a = np.ascontiguousarray(alphas, dtype=np.float64).reshape(-1)
        w = self._search_weights(weights, "search_alpha")
        error: List[Optional[BaseException]] = [None]
        fn = self._score_callback(score, error)
        best = ctypes.c_double()
        scores = np.empty(max(a.size, 1), dtype=np.float64)
        try:
            check(lib.mudsc_matcher_search_alpha(ctypes.byref(best), scores.ctypes.data_as(F64P),
                                                 self._h, a.ctypes.data_as(F64P), a.size,
                                                 None if w is None else w.ctypes.data_as(F64P),
                                                 fn, None))
        except errors.CancelledError:
            if error[0] is not None:
                raise error[0]
            raise
        return best.value, scores[:a.size].tolist()

    def search_point_alphas(self, alphas: Sequence[float],
                            score: Callable[[Model, float], float], rounds: int = 1,
                            weights: Optional[Sequence[float]] = None
                            ) -> "tuple[List[float], float]":
        """Alpha search with per-point alphas (mudsc_matcher_search_point_alphas,
        docs/algorithm.md section 24): the global search, then up to `rounds`
        coordinate rounds over the points (each point tries every other
        value with the others fixed; kept when strictly better).  score as
        search_alpha (its alpha: the value tried at the point searched).
        Returns (the per-point alphas in graph order, the best score); the
        matcher keeps that candidate's results and per-point alphas."""
        a = np.ascontiguousarray(alphas, dtype=np.float64).reshape(-1)
        w = self._search_weights(weights, "search_point_alphas")
        error: List[Optional[BaseException]] = [None]
        fn = self._score_callback(score, error)
        out = np.empty(max(len(self.graph), 1), dtype=np.float64)
        best = ctypes.c_double()
        try:
            check(lib.mudsc_matcher_search_point_alphas(
                out.ctypes.data_as(F64P), ctypes.byref(best), self._h, a.ctypes.data_as(F64P),
                a.size, int(rounds), None if w is None else w.ctypes.data_as(F64P), fn, None))
        except errors.CancelledError:
            if error[0] is not None:
                raise error[0]
            raise
        return out[:len(self.graph)].tolist(), best.value

    def set_point_alphas(self, alphas: Optional[Sequence[float]]) -> None:
        """Per-point alphas for the next run (mudsc_matcher_set_point_alphas):
        one per point in graph order, or None for opts.alpha everywhere."""
        if alphas is None:
            check(lib.mudsc_matcher_set_point_alphas(self._h, None, 0))
            return
        a = np.ascontiguousarray(alphas, dtype=np.float64).reshape(-1)
        check(lib.mudsc_matcher_set_point_alphas(self._h, a.ctypes.data_as(F64P), a.size))

    @property
    def point_alphas(self) -> List[float]:
        """The alpha each point is matched with (mudsc_matcher_point_alphas)."""
        n = len(self.graph)
        out = np.empty(max(n, 1), dtype=np.float64)
        needed = ctypes.c_size_t()
        check(lib.mudsc_matcher_point_alphas(out.ctypes.data_as(F64P), out.size,
                                             ctypes.byref(needed), self._h))
        return out[:n].tolist()

    @property
    def sweeps(self) -> int:
        """Sweeps of the last run (0 for activation-only matching, -1 before a run)."""
        return int(lib.mudsc_matcher_sweeps(self._h))

    @property
    def best_sweep(self) -> int:
        """The sweep whose correspondences were kept (-1: the activation
        initialisation)."""
        return int(lib.mudsc_matcher_best_sweep(self._h))

    @property
    def objectives(self) -> List[float]:
        """The objective of each sweep of the last run."""
        h = self._h
        out = read_array(lambda o, cap, needed: lib.mudsc_matcher_objectives(o, cap, needed, h),
                         F64P, np.float64)
        return [float(x) for x in out]

    # ---- results ------------------------------------------------------------------

    def point_result(self, point: Union[int, str]) -> PointResult:
        """Merged width and scores of a point (StateError before a run)."""
        width = ctypes.c_int64()
        scores = np.empty(3, dtype=np.float64)
        check(lib.mudsc_matcher_point_result(ctypes.byref(width), scores.ctypes.data_as(F64P),
                                             self._h, self._point(point)))
        return PointResult(width.value, float(scores[0]), float(scores[1]), float(scores[2]))

    def assignment(self, point: Union[int, str]) -> np.ndarray:
        """The merged unit of every stacked unit u = i*C + c (length N*C);
        StateError for CCA results (dense: see matrix())."""
        h, p = self._h, self._point(point)
        return read_array(lambda o, cap, needed: lib.mudsc_matcher_assignment(o, cap, needed, h, p),
                          I64P, np.int64)

    def permutation(self, point: Union[int, str], model: int) -> np.ndarray:
        """Align only: out[j] = the unit of `model` matched to anchor unit j
        (StateError for zip results)."""
        h, p = self._h, self._point(point)
        return read_array(
            lambda o, cap, needed: lib.mudsc_matcher_permutation(o, cap, needed, h, p, model),
            I64P, np.int64)

    def matrix(self, point: Union[int, str], model: int, kind: str = "merge") -> np.ndarray:
        """Model `model`'s C x C' merge ("merge") or unmerge ("unmerge") matrix
        (dense for CCA: M_i and M_i^-T)."""
        if kind not in MATRIX_KINDS:
            raise errors.InvalidArgumentError.make(f"matrix: kind {kind!r} is not 'merge' or "
                                                   f"'unmerge'")
        h, p, k = self._h, self._point(point), MATRIX_KINDS[kind]
        out = read_array(lambda o, cap, needed: lib.mudsc_matcher_matrix(o, cap, needed, h, p,
                                                                          model, k),
                         F64P, np.float64)
        return out.reshape(self._width(point), -1)

    def merge(self, weights: Optional[Sequence[float]] = None) -> Model:
        """The merged model (every tensor of model 0's order; weights: one per
        model, default 1/N each)."""
        out = ctypes.c_void_p()
        w = None if weights is None else np.ascontiguousarray(weights, dtype=np.float64)
        if w is not None and w.shape != (self.n_models,):
            raise errors.InvalidArgumentError.make(
                f"merge: need {self.n_models} weights, got shape {w.shape}")
        check(lib.mudsc_matcher_merge(ctypes.byref(out), self._h,
                                      None if w is None else w.ctypes.data_as(F64P)))
        return Model._wrap(out.value)

    def transform(self, model: int) -> Model:
        """Model `model` brought into the merged order without averaging."""
        out = ctypes.c_void_p()
        check(lib.mudsc_matcher_transform(ctypes.byref(out), self._h, model))
        return Model._wrap(out.value)

    def _to_file(self, call: Callable[[], int]) -> None:
        self._progress_error[0] = None
        try:
            check(call())
        except errors.CancelledError:
            exc, self._progress_error[0] = self._progress_error[0], None
            if exc is not None:
                raise exc
            raise

    def merge_to_file(self, path: Union[str, "os.PathLike[str]"],
                      weights: Optional[Sequence[float]] = None) -> None:
        """Write the merged model (the tensors merge(weights) returns) straight
        to a safetensors file, tensor by tensor and atomically
        (mudsc_matcher_merge_to_file): the same bytes as merge().save(path),
        holding about one tensor at a time instead of the whole model.  The
        progress callback gets (tensor, -1, fraction written) before each
        tensor and may cancel (CancelledError; nothing is left at path)."""
        w = None if weights is None else np.ascontiguousarray(weights, dtype=np.float64)
        if w is not None and w.shape != (self.n_models,):
            raise errors.InvalidArgumentError.make(
                f"merge_to_file: need {self.n_models} weights, got shape {w.shape}")
        p = fspath(path)
        self._to_file(lambda: lib.mudsc_matcher_merge_to_file(
            self._h, p, None if w is None else w.ctypes.data_as(F64P)))

    def transform_to_file(self, path: Union[str, "os.PathLike[str]"], model: int) -> None:
        """transform(model) written straight to a safetensors file, as
        merge_to_file()."""
        p = fspath(path)
        self._to_file(lambda: lib.mudsc_matcher_transform_to_file(self._h, p, model))

    def __repr__(self) -> str:
        if self.closed:
            return "<mudsc.Matcher closed>"
        return f"<mudsc.Matcher {self.n_models} models, {len(self.graph)} points>"
