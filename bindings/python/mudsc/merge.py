"""merge(): the whole MuDSC merge in one call, and its MergeResult."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

from .accum import Accumulator
from .graph import Graph
from .matcher import Matcher, PointResult
from .model import Model
from .stats import Stats

#: activations per point: an Accumulator or an NC x NC similarity array
Activation = Union[Accumulator, npt.ArrayLike]

#: a model's (merge C x C', unmerge C x C') matrices
MatrixPair = Tuple[np.ndarray, np.ndarray]


class PointMatrices(Mapping[str, List[MatrixPair]]):
    """point -> per model (merge, unmerge), read from the matcher when a
    point is first looked up: the matrices are dense C x C' arrays (for a
    transformer's MLP points, tens of MB each), so merge() builds none that
    nobody asks for.  Keeps the matcher alive."""

    def __init__(self, matcher: Matcher, names: List[str]) -> None:
        self._matcher = matcher
        self._names = names
        self._read: Dict[str, List[MatrixPair]] = {}

    def __getitem__(self, point: str) -> List[MatrixPair]:
        if point not in self._read:
            if point not in self._names:
                raise KeyError(point)
            m = self._matcher
            self._read[point] = [(m.matrix(point, i, "merge"), m.matrix(point, i, "unmerge"))
                                 for i in range(m.n_models)]
        return self._read[point]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


@dataclass
class MergeResult:
    """What merge() returns.

    tensors: the merged tensors as read-only NumPy views of `model`
        (BF16/F8 tensors only in `model`);
    model: the merged Model;
    points: the graph's point names, in order;
    permutations: point -> per model, perm[j] = the model's unit matched to
        anchor unit j (align only; None for zip);
    matrices: point -> per model, (merge C x C', unmerge C x C'), read from
        the library on first look-up (PointMatrices);
    scores: point -> PointResult;
    objectives, sweeps, best_sweep: as Matcher's.
    """
    tensors: Dict[str, np.ndarray]
    model: Model
    points: List[str]
    permutations: Optional[Dict[str, List[np.ndarray]]]
    matrices: PointMatrices
    scores: Dict[str, PointResult]
    objectives: List[float]
    sweeps: int
    best_sweep: int


def merge(models: Sequence[Union[Model, Mapping[str, npt.ArrayLike]]], graph: Graph,
          activations: Optional[Mapping[Union[str, int], Activation]] = None,
          method: Optional[str] = None, alpha: Optional[float] = None,
          weights: Optional[Sequence[float]] = None, **opts: object) -> MergeResult:
    """Match and merge models (Models or dicts of NumPy arrays, borrowed)
    described by graph.

    activations: None (weight matching), a Stats set (every point's
    statistics, mudsc_matcher_set_stats) or, for every point (by name or
    index), an Accumulator or an NC x NC activation similarity.  method,
    alpha and opts (method "cca" takes Accumulators or a Stats set in the
    full mode, or host covariances; zip_r, zip_a, zip_b, use_groups, max_iter, patience,
    seed, threads, eps, similarity, progress, max_memory, weight_precision,
    cca_ridge) are
    Matcher's (None: the
    library's defaults); weights: one per model for the average (default
    1/N).
    """
    matcher = Matcher(graph, models, method=method, alpha=alpha, **opts)
    try:
        if isinstance(activations, Stats):
            matcher.set_stats(activations)
        for point, act in (() if isinstance(activations, Stats)
                           else (activations or {}).items()):
            if isinstance(act, Accumulator):
                matcher.set_activations(point, act)
            else:
                matcher.set_activation_similarity(point, act)
        matcher.run()
        model = matcher.merge(weights)
    except BaseException:
        matcher.close()
        raise
    names = graph.point_names
    n = matcher.n_models
    return MergeResult(
        tensors=model.to_numpy(),
        model=model,
        points=names,
        permutations=({p: [matcher.permutation(p, i) for i in range(n)] for p in names}
                      if matcher.method == "align" else None),
        matrices=PointMatrices(matcher, names),
        scores={p: matcher.point_result(p) for p in names},
        objectives=matcher.objectives,
        sweeps=matcher.sweeps,
        best_sweep=matcher.best_sweep)
