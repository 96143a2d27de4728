"""merge(): the whole MuDSC merge in one call, and its MergeResult."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

from .accum import Accumulator
from .graph import Graph
from .matcher import Matcher, PointResult
from .model import Model

#: activations per point: an Accumulator or an NC x NC similarity array
Activation = Union[Accumulator, npt.ArrayLike]


@dataclass
class MergeResult:
    """What merge() returns.

    tensors: the merged tensors as read-only NumPy views of `model`
        (BF16/F8 tensors only in `model`);
    model: the merged Model;
    points: the graph's point names, in order;
    permutations: point -> per model, perm[j] = the model's unit matched to
        anchor unit j (align only; None for zip);
    matrices: point -> per model, (merge C x C', unmerge C x C');
    scores: point -> PointResult;
    objectives, sweeps, best_sweep: as Matcher's.
    """
    tensors: Dict[str, np.ndarray]
    model: Model
    points: List[str]
    permutations: Optional[Dict[str, List[np.ndarray]]]
    matrices: Dict[str, List[Tuple[np.ndarray, np.ndarray]]]
    scores: Dict[str, PointResult]
    objectives: List[float]
    sweeps: int
    best_sweep: int


def merge(models: Sequence[Union[Model, Mapping[str, npt.ArrayLike]]], graph: Graph,
          activations: Optional[Mapping[Union[str, int], Activation]] = None,
          method: str = "align", alpha: float = 0.5,
          weights: Optional[Sequence[float]] = None, **opts: object) -> MergeResult:
    """Match and merge models (Models or dicts of NumPy arrays, borrowed)
    described by graph.

    activations: None (weight matching) or, for every point (by name or
    index), an Accumulator or an NC x NC activation similarity.  method,
    alpha and opts (zip_r, zip_a, zip_b, use_groups, max_iter, patience,
    seed, threads, eps, similarity, progress) are Matcher's; weights: one
    per model for the average (default 1/N).
    """
    with Matcher(graph, models, method=method, alpha=alpha, **opts) as matcher:
        for point, act in (activations or {}).items():
            if isinstance(act, Accumulator):
                matcher.set_activations(point, act)
            else:
                matcher.set_activation_similarity(point, act)
        matcher.run()
        model = matcher.merge(weights)
        names = graph.point_names
        n = matcher.n_models
        return MergeResult(
            tensors=model.to_numpy(),
            model=model,
            points=names,
            permutations=({p: [matcher.permutation(p, i) for i in range(n)] for p in names}
                          if method == "align" else None),
            matrices={p: [(matcher.matrix(p, i, "merge"), matcher.matrix(p, i, "unmerge"))
                          for i in range(n)] for p in names},
            scores={p: matcher.point_result(p) for p in names},
            objectives=matcher.objectives,
            sweeps=matcher.sweeps,
            best_sweep=matcher.best_sweep)
