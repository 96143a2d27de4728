"""PyTorch helpers: state_dict <-> Model without copies, activation
statistics collected by forward hooks, a merged nn.Module, and BatchNorm
re-estimation.  Importing this module imports torch.

Sites (docs/graph-format.md): each graph point's site names a module of the
networks (as in named_modules()); its output is observed, or with the suffix
":input" its first input; the feature axis is the site's axis.  A point
with a site offset (Graph.set_site(..., offset)), or whose site has more
features than it has units, observes the slice of its units (the value
heads of a Llama graph share their v_proj's output).
"""
from __future__ import annotations

import copy
import warnings
from collections import OrderedDict
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from . import errors
from .accum import DEFAULT_MAX_LEAD
from .graph import Graph, Point, site_module
from .merge import MergeResult
from .merge import merge as _merge
from .model import Model
from .stats import Stats

__all__ = ["model_from_state_dict", "state_dict_from_model", "collect_activations", "merge",
           "reset_bn_stats"]

# torch dtypes a Model takes as they are (NumPy has them).
_DIRECT = {torch.float16, torch.float32, torch.float64, torch.uint8, torch.int8, torch.int16,
           torch.int32, torch.int64, torch.bool}
# mudsc dtype names torch has, other than through NumPy.
_MODEL_DTYPES = {"BF16": torch.bfloat16}


def _numpy(t: torch.Tensor) -> Tuple[np.ndarray, Optional[str]]:
    """(array sharing t's memory, mudsc dtype name or None) for a CPU
    contiguous tensor; other tensors are moved / made contiguous first (a
    copy).  BF16 comes out as uint16 bits with the name "BF16"."""
    t = t.detach()
    if t.device.type != "cpu" or not t.is_contiguous():
        t = t.cpu().contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().view(np.uint16), "BF16"
    if t.dtype not in _DIRECT:
        raise errors.UnsupportedError.make(f"torch dtype {t.dtype} has no libmudsc dtype")
    return t.numpy(), None


def model_from_state_dict(state_dict: Mapping[str, torch.Tensor], copy: bool = False) -> Model:
    """A Model of a state_dict's tensors, in order.  CPU contiguous tensors
    of float16, bfloat16, float32, float64, integer and bool dtypes are
    borrowed (zero copy; the Model keeps them alive, and they must not be
    modified while it lives); others are copied once.  copy=True copies all."""
    m = Model()
    for name, t in state_dict.items():
        arr, dtype = _numpy(t)
        m.add(name, arr, copy=copy, dtype=dtype)
    return m


def _tensor(model: Model, name: str) -> torch.Tensor:
    info = model.info(name)
    with warnings.catch_warnings():
        # The views are read-only NumPy arrays; torch has no read-only tensors.
        warnings.simplefilter("ignore", UserWarning)
        if info.dtype in _MODEL_DTYPES:
            bits = model.bits(name).view(np.int16)
            return torch.from_numpy(bits).view(_MODEL_DTYPES[info.dtype])
        arr = model[name]  # UnsupportedError for F8
        if arr.dtype in (np.uint16, np.uint32, np.uint64):
            raise errors.UnsupportedError.make(f"tensor {name!r}: torch {torch.__version__} "
                                               f"has no {arr.dtype}")
        if not arr.flags.aligned:  # a memory-mapped file may leave data unaligned
            return torch.from_numpy(np.array(arr))
        return torch.from_numpy(arr)


def state_dict_from_model(model: Model, copy: bool = False) -> "OrderedDict[str, torch.Tensor]":
    """The model's tensors as torch tensors, in order.  copy=False (default)
    shares the model's memory (zero copy; the tensors keep the model's
    memory alive): treat them as read-only (a model loaded from a file is a
    read-only mapping, writing would crash).  load_state_dict() copies them
    into a network, which is safe.  copy=True gives independent tensors."""
    out: "OrderedDict[str, torch.Tensor]" = OrderedDict()
    for name in model.names():
        t = _tensor(model, name)
        out[name] = t.clone() if copy else t
    return out


# ---- activations --------------------------------------------------------

def _input(batch: Any) -> Any:
    """The network input of a batch: the batch, or its first item."""
    return batch[0] if isinstance(batch, (tuple, list)) else batch


def _device(net: nn.Module) -> torch.device:
    p = next(net.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def _batches(batches: Iterable[Any], max_batches: Optional[int]) -> Iterable[Any]:
    for b, batch in enumerate(batches):
        if max_batches is not None and b >= max_batches:
            return
        yield batch


def _site_table(graph: Graph) -> Tuple[List[Point], Dict[Tuple[str, bool], List[str]]]:
    """The points and, per (module, observes its input), the points observed there."""
    points = graph.points
    sites: Dict[Tuple[str, bool], List[str]] = {}
    for p in points:
        if p.site is None:
            raise errors.InvalidArgumentError.make(
                f"collect_activations: point {p.name!r} has no site (Graph.set_site)")
        sites.setdefault(site_module(p.site), []).append(p.name)
    return points, sites


def _hook_value(value: Any) -> torch.Tensor:
    """A forward hook's value: a tensor, or the first entry of a tuple/list."""
    return value[0] if isinstance(value, (tuple, list)) else value


def _hook(stash: Dict[str, torch.Tensor], names: List[str],
          observe_input: bool) -> Callable[[nn.Module, Tuple[Any, ...], Any], None]:
    def hook(module: nn.Module, inputs: Tuple[Any, ...], output: Any) -> None:
        value = _hook_value(inputs[0] if observe_input else output)
        for name in names:
            stash[name] = value.detach()
    return hook


def _point_features(t: torch.Tensor, point: Point) -> torch.Tensor:
    """The point's own features of what its site produced: t itself, or
    (a site wider than the point, e.g. a Llama v_proj holding every value
    head) the view of features site_offset .. site_offset + width - 1 on
    the site's axis.  A site narrower than that is InvalidArgumentError."""
    axis = point.site_axis % t.dim() if t.dim() else 0
    if t.dim() == 0 or (t.shape[axis] == point.width and point.site_offset == 0):
        return t
    if point.site_offset + point.width > t.shape[axis]:
        raise errors.InvalidArgumentError.make(
            f"point {point.name!r}: its site {point.site!r} has {t.shape[axis]} features on "
            f"axis {point.site_axis}, the point needs {point.site_offset} + {point.width}")
    return t.narrow(axis, point.site_offset, point.width)


def _feature_array(t: torch.Tensor) -> Tuple[np.ndarray, Optional[str]]:
    """The features as a NumPy view (any strides, zero copy for CPU float
    tensors; bfloat16 as bits), other dtypes converted to float32."""
    if t.device.type != "cpu":
        t = t.cpu()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().view(np.uint16), "BF16"
    if t.dtype not in (torch.float16, torch.float32, torch.float64):
        t = t.float()
    return t.numpy(), None


def _observations_per_sample(shape: Tuple[int, ...], axis: int) -> Tuple[int, int]:
    """(observations per index of axis 0, number of indices along axis 0 to
    slice by) of features with feature axis `axis`."""
    ndim = len(shape)
    ax = axis % ndim if ndim else 0
    rest = int(np.prod(shape[1:], dtype=np.int64)) if ndim > 1 else 1
    if ax == 0 or ndim < 2:
        return rest, 1
    return rest // max(shape[ax], 1), shape[0]


def _feed(stats: Stats, point: Point, arrays: List[Tuple[np.ndarray, Optional[str]]]) -> None:
    """Stream the N models' features of one batch into the point's
    accumulator, in slices along axis 0 so no model runs more than max_lead
    observations ahead of the others."""
    per_sample, rows = _observations_per_sample(arrays[0][0].shape, point.site_axis)
    step = max(1, DEFAULT_MAX_LEAD // max(per_sample, 1)) if rows > 1 else 1
    for start in range(0, max(rows, 1), step):
        for i, (arr, dtype) in enumerate(arrays):
            chunk = arr[start:start + step] if rows > 1 else arr
            stats.update(point.name, i, chunk, axis=point.site_axis, dtype=dtype)


def _all_reduce_stats(stats: Stats, graph: Graph, group: Any) -> Stats:
    """The set of the whole data on every rank of the torch.distributed
    process group: every rank's set as its file bytes (Stats.to_bytes), all
    gathered as uint8 tensors (padded to the longest), and merged on every
    rank in rank order (Chan, Stats.merge): every rank computes the same
    merges of the same bytes, so the result does not depend on timing and
    equals the single stream over the shards in rank order to 1e-12
    (F64).  A rank whose set cannot be serialized, or a set of another
    graph or N, makes every rank raise alike (the failure is exchanged
    with the lengths before the bytes travel)."""
    import torch.distributed as dist

    rank, size = dist.get_rank(group), dist.get_world_size(group)
    try:
        mine, failure = stats.to_bytes(), None
    except errors.MudscError as e:  # told to the other ranks before raising
        mine, failure = b"", e
    head = torch.tensor([len(mine), 0 if failure is None else 1], dtype=torch.int64)
    heads = [torch.zeros(2, dtype=torch.int64) for _ in range(size)]
    dist.all_gather(heads, head, group=group)
    if failure is not None:
        raise failure
    for r, h in enumerate(heads):
        if int(h[1]) != 0:
            raise errors.MismatchError.make(
                f"collect_activations: rank {r} could not serialize its statistics set")
    most = max(int(h[0]) for h in heads)
    buf = torch.zeros(most, dtype=torch.uint8)
    buf[:len(mine)] = torch.frombuffer(bytearray(mine), dtype=torch.uint8) if mine else buf[:0]
    parts = [torch.zeros(most, dtype=torch.uint8) for _ in range(size)]
    dist.all_gather(parts, buf, group=group)
    lead = stats._opts.max_lead
    whole: Optional[Stats] = None
    for r in range(size):
        data = parts[r][:int(heads[r][0])].numpy().tobytes()
        try:
            part = Stats.from_bytes(data, graph, stats.n_models, max_lead=lead)
        except errors.MismatchError as e:
            raise errors.MismatchError.make(
                f"collect_activations: rank {r}'s set does not fit rank {rank}'s graph and N: "
                f"{e}") from None
        if whole is None:
            whole = part
        else:
            whole.merge(part)
    assert whole is not None
    return whole


def collect_activations(nets: Sequence[nn.Module], graph: Graph, batches: Iterable[Any],
                        max_batches: Optional[int] = None, group: Any = None,
                        mode: Optional[str] = None) -> Stats:
    """Activation statistics of every graph point over the batches.

    Forward hooks at each point's site (see the module documentation) of
    every net; every batch (a tensor, or a tuple/list whose first item is
    the input) goes through every net in eval mode under no_grad (modes are
    restored afterwards).  Returns a mudsc.Stats: one accumulator per point,
    which save()s to one file, merge()s with the sets of other shards and
    goes to mudsc.merge / merge(activations=...) as it is.  A Stats is also
    the mapping point name -> Accumulator that this function returned
    before (a dict then), so older callers keep working; without any batch
    it holds no observations (and merge() then matches weights only).  A
    point without a site is InvalidArgumentError, a site module a net lacks
    NotFoundError.

    group: a torch.distributed process group (e.g. torch.distributed.group.WORLD
    after init_process_group("gloo")): each rank passes the batches of its
    shard, and every rank of the group gets the set of the whole data --
    the ranks' sets exchanged as their file bytes and merged in rank order
    (docs/distributed.md).  A collective call: every rank of the group must
    make it.

    mode: "cross" for cross-block statistics (model 0 against each model
    and every unit's moments: (N-1)C^2 values a point instead of (NC)^2;
    align only, zip refuses them), None or "full" for the full ones.
    """
    points, sites = _site_table(graph)
    stash: List[Dict[str, torch.Tensor]] = [{} for _ in nets]
    handles = []
    modes = [net.training for net in nets]
    stats: Optional[Stats] = None
    try:
        for i, net in enumerate(nets):
            modules = dict(net.named_modules())
            for (module, observe_input), names in sites.items():
                if module not in modules:
                    raise errors.NotFoundError.make(
                        f"collect_activations: net {i} has no module {module!r} (site of "
                        f"point {names[0]!r})")
                handles.append(modules[module].register_forward_hook(
                    _hook(stash[i], names, observe_input)))
            net.eval()
        with torch.no_grad():
            for batch in _batches(batches, max_batches):
                x = _input(batch)
                for i, net in enumerate(nets):
                    stash[i].clear()
                    net(x.to(_device(net)))
                feats = {p.name: [_feature_array(_point_features(stash[i][p.name], p))
                                  for i in range(len(nets))]
                         for p in points}
                if stats is None:
                    # one max_lead for every point: what the largest sample needs
                    lead = max([DEFAULT_MAX_LEAD] + [
                        _observations_per_sample(feats[p.name][0][0].shape, p.site_axis)[0]
                        for p in points])
                    stats = Stats(graph, len(nets), max_lead=lead, mode=mode)
                for p in points:
                    _feed(stats, p, feats[p.name])
    finally:
        for h in handles:
            h.remove()
        for net, was_training in zip(nets, modes):
            net.train(was_training)
    if stats is None:
        stats = Stats(graph, len(nets), mode=mode)
    if group is not None:
        stats = _all_reduce_stats(stats, graph, group)
    return stats


def _observed(stats: Any) -> bool:
    """False for a Stats without observations (collect_activations over no batch)."""
    return not (isinstance(stats, Stats) and len(stats) > 0 and
                stats.point(0).count() == 0)


# ---- merging ------------------------------------------------------------

def merge(nets: Sequence[nn.Module], graph: Graph, batches: Optional[Iterable[Any]] = None,
          method: Optional[str] = None, alpha: Optional[float] = None,
          weights: Optional[Sequence[float]] = None,
          reset_bn: Optional[Iterable[Any]] = None,
          activations: Optional[Mapping[str, Any]] = None, group: Any = None,
          **opts: Any) -> Tuple[nn.Module, MergeResult]:
    """Merge networks of one architecture described by graph.

    batches: calibration batches for the activation statistics; or
    activations: statistics collected before (collect_activations' result,
    or what mudsc.merge accepts), so that several merges share one
    collection.  Neither: weight matching only.  method, alpha, weights and
    opts as mudsc.merge.
    group: with batches, a torch.distributed process group: each rank gives
    its shard's batches and the statistics are those of the whole data
    (collect_activations(group=)); every rank then computes the same merge.
    Returns (a deep copy of nets[0] holding the merged state, MergeResult).
    reset_bn: batches on which the merged network's BatchNorm statistics are
    re-estimated (reset_bn_stats), as the paper does after merging.
    """
    if batches is not None and activations is not None:
        raise errors.InvalidArgumentError.make(
            "merge: give 'batches' or 'activations', not both")
    models = [model_from_state_dict(net.state_dict()) for net in nets]
    if batches is not None:
        activations = collect_activations(nets, graph, batches, group=group)
        if not _observed(activations):
            activations = None
    result = _merge(models, graph, activations=activations, method=method, alpha=alpha,
                    weights=weights, **opts)
    merged = copy.deepcopy(nets[0])
    merged.load_state_dict(state_dict_from_model(result.model))
    if reset_bn is not None:
        reset_bn_stats(merged, reset_bn)
    return merged, result


def reset_bn_stats(net: nn.Module, batches: Iterable[Any],
                   max_batches: Optional[int] = None) -> None:
    """Re-estimate the running statistics of every BatchNorm of net that
    tracks them: reset, then cumulative averaging (momentum=None) over the
    batches in train mode under no_grad.  Momentum and every module's mode
    are restored; on error (or no batch) the old statistics are put back."""
    bns = [m for m in net.modules()
           if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    modes = [(m, m.training) for m in net.modules()]
    saved = [(m, m.momentum, m.running_mean.clone(), m.running_var.clone(),
              m.num_batches_tracked.clone()) for m in bns]
    seen = 0
    try:
        for m in bns:
            m.reset_running_stats()
            m.momentum = None
        net.train()
        with torch.no_grad():
            for batch in _batches(batches, max_batches):
                net(_input(batch).to(_device(net)))
                seen += 1
        if seen == 0:
            raise errors.InvalidArgumentError.make("reset_bn_stats: no batches")
    except BaseException:
        with torch.no_grad():
            for m, _, mean, var, count in saved:
                m.running_mean.copy_(mean)
                m.running_var.copy_(var)
                m.num_batches_tracked.copy_(count)
        raise
    finally:
        for m, momentum, *_ in saved:
            m.momentum = momentum
        for m, mode in modes:
            m.training = mode
from .torch_distance import model_distance  # noqa: E402,F401  (issue 16: ModelGiF)
from .torch_trace import TraceReport, VerifyResult, trace_graph, verify_graph  # noqa: E402,F401  (issue 14)
from .torch_lookaround import Lookaround, average  # noqa: E402,F401  (issue 17)
from .torch_correct import (MultiHead, layer_moments, parameter_count, partial_zip,  # noqa: E402,F401  (issue 18)
                            pre_activation_graph, repair, repair_layer, search_alpha)
from .torch_lsq import lsq_correct, lsq_layer  # noqa: E402,F401  (issue 18: least-squares correction)
