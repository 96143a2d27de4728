"""PyTorch driver of the least-squares correction (issue 18; mudsc.Lsq,
mudsc_lsq_* in correct.h, docs/algorithm.md section 23): mudsc.torch.lsq_correct
corrects a merged network layer by layer, each layer's inputs taken from
the network whose earlier layers are already corrected.  Re-exported by
mudsc.torch."""
from __future__ import annotations

import contextlib
import copy
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from . import errors
from .correct import _matcher_of
from .graph import Point
from .lsq import Lsq
from .torch import _batches, _device, _input, model_from_state_dict, state_dict_from_model


def _producer(point: Point) -> Optional[str]:
    """The module whose "X.weight" is among the point's OUT tensors (the
    library checks the rule; this only finds the module to hook)."""
    for b in point.bindings:
        if b.role == "out" and not b.ignore and b.part is None and b.tensor.endswith(".weight"):
            return b.tensor[: -len(".weight")]
    return None


def _rows_in(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The layer's input as (observations, D) rows: a Linear's last axis,
    a Conv2d's unfolded patches (im2col, columns in (in, kh, kw) order,
    rows in (batch, out_y, out_x) order, as the conv's outputs)."""
    if isinstance(module, nn.Conv2d):
        if module.groups != 1 or module.padding_mode != "zeros" or \
                isinstance(module.padding, str):
            raise errors.UnsupportedError.make(
                "lsq_correct: Conv2d with groups, a padding mode or string padding")
        cols = F.unfold(x, module.kernel_size, dilation=module.dilation,
                        padding=module.padding, stride=module.stride)
        return cols.transpose(1, 2).reshape(-1, cols.shape[1])
    return x.reshape(-1, x.shape[-1])


def _rows_out(module: nn.Module, y: torch.Tensor) -> torch.Tensor:
    """The layer's output as (observations, C) rows."""
    if isinstance(module, nn.Conv2d):
        return y.movedim(1, -1).reshape(-1, y.shape[1])
    return y.reshape(-1, y.shape[-1])


def _capture(net: nn.Module, name: str, want_input: bool, store: List[torch.Tensor],
             fn: str) -> Tuple[nn.Module, Any]:
    module = dict(net.named_modules()).get(name)
    if not isinstance(module, (nn.Linear, nn.Conv2d)):
        raise errors.UnsupportedError.make(
            f"{fn}: module {name!r} is not an nn.Linear or nn.Conv2d")

    def hook(mod: nn.Module, inputs: Tuple[Any, ...], output: Any) -> None:
        rows = _rows_in(mod, inputs[0]) if want_input else _rows_out(mod, output)
        store.append(rows.detach().to(torch.float64).cpu())

    return module, module.register_forward_hook(hook)


def lsq_correct(merged: nn.Module, nets: Sequence[nn.Module], result: Any,
                batches: Iterable[Any], weights: Optional[Sequence[float]] = None,
                ridge: Optional[float] = None, max_batches: Optional[int] = None,
                report: Optional[List[Dict[str, Any]]] = None) -> nn.Module:
    """The least-squares correction of a merged network: a deep copy of
    `merged` in which, point by point in graph order, the producer layer
    (an nn.Linear or nn.Conv2d with bias, named by the point's OUT
    "X.weight") is re-solved so that its outputs on the corrected network's
    own inputs best match the weighted mean of the source nets' outputs of
    that layer (mudsc.Lsq; docs/algorithm.md section 23).

    nets: the N source networks (same module names as merged); result:
    mudsc.torch.merge's MergeResult or the Matcher; batches: re-iterable
    calibration inputs (one pass per point); weights: the merge weights
    (default 1/N); ridge: the relative ridge (default mudsc.lsq.DEFAULT_RIDGE).
    Points whose OUT tensors are not one layer's weight and bias (a norm's,
    several producers) are left as merged.  report, if a list, receives per
    point a dict: point, rows, error_before, error_after (mean squared
    error against the targets, mudsc_lsq_error), or skipped (the reason)."""
    matcher = _matcher_of(result)
    if len(nets) != matcher.n_models:
        raise errors.MismatchError.make(
            f"lsq_correct: {len(nets)} nets for a matcher of {matcher.n_models} models")
    out = copy.deepcopy(merged)
    with _evaluating(out, *nets):
        for point in matcher.graph.points:
            _correct_point(out, nets, matcher, point, batches, weights, ridge, max_batches,
                           report)
    return out


def _correct_point(out: nn.Module, nets: Sequence[nn.Module], matcher: Any, point: Point,
                   batches: Iterable[Any], weights: Optional[Sequence[float]],
                   ridge: Optional[float], max_batches: Optional[int],
                   report: Optional[List[Dict[str, Any]]]) -> None:
    name = _producer(point)
    try:
        if name is None:
            raise errors.UnsupportedError.make(f"point {point.name!r} has no OUT X.weight")
        lsq = Lsq(matcher, model_from_state_dict(out.state_dict()), point.name, weights)
    except errors.UnsupportedError as e:
        if report is not None:
            report.append({"point": point.name, "skipped": str(e)})
        return
    _stream(out, nets, name, lsq, batches, max_batches, "lsq_correct")
    errs = _solve_into(out, lsq, ridge)
    if report is not None:
        report.append({"point": point.name, **errs})


@contextlib.contextmanager
def _evaluating(*nets: nn.Module) -> Iterator[None]:
    """The nets in eval mode for the block, their modes restored after."""
    modes = [n.training for n in nets]
    try:
        for n in nets:
            n.eval()
        yield
    finally:
        for n, mode in zip(nets, modes):
            n.train(mode)


def _solve_into(out: nn.Module, lsq: Lsq, ridge: Optional[float]) -> Dict[str, Any]:
    """Solve lsq's layer from out's current parameters and load it into out;
    returns rows, error_before and error_after (mudsc_lsq_error)."""
    model = model_from_state_dict(out.state_dict(), copy=True)
    fixed = lsq.solve(model, ridge=ridge)
    errs = {"rows": lsq.rows, "error_before": lsq.error(model), "error_after": lsq.error(fixed)}
    out.load_state_dict(state_dict_from_model(fixed, copy=True))
    return errs


def _stream(out: nn.Module, nets: Sequence[nn.Module], name: str, lsq: Lsq,
            batches: Iterable[Any], max_batches: Optional[int], fn: str,
            transform: Optional[Callable[[torch.Tensor], torch.Tensor]] = None) -> None:
    """One pass over batches: the inputs of `out`'s layer `name` and the
    nets' outputs of it (each through transform, if given) into lsq."""
    xs: List[torch.Tensor] = []
    ys: List[List[torch.Tensor]] = [[] for _ in nets]
    hooks = [_capture(out, name, True, xs, fn)[1]]
    try:
        hooks += [_capture(net, name, False, ys[i], fn)[1] for i, net in enumerate(nets)]
        with torch.no_grad():
            for batch in _batches(batches, max_batches):
                x = _input(batch)
                out(x.to(_device(out)))
                for net in nets:
                    net(x.to(_device(net)))
                targets = [y.pop() for y in ys]
                if transform is not None:
                    targets = [transform(t) for t in targets]
                lsq.update(xs.pop().numpy(), [t.numpy() for t in targets])
    finally:
        for h in hooks:
            h.remove()
    if lsq.rows == 0:
        raise errors.InvalidArgumentError.make(f"{fn}: no batches")


def lsq_layer(merged: nn.Module, nets: Sequence[nn.Module], layer: str, batches: Iterable[Any],
              weights: Optional[Sequence[float]] = None, ridge: Optional[float] = None,
              transform: Optional[Callable[[torch.Tensor], torch.Tensor]] = None,
              max_batches: Optional[int] = None,
              report: Optional[Dict[str, Any]] = None) -> nn.Module:
    """The least-squares correction of one layer whose units correspond by
    index in every net (a shared output layer: an embedding compared with
    fixed class embeddings, logits over the same classes), which no point
    matches (mudsc.Lsq.layer, mudsc_lsq_layer_new; docs/algorithm.md 23.4),
    the twin of repair_layer: a deep copy of `merged` in which `layer` (an
    nn.Linear or nn.Conv2d with bias) is re-solved so that its outputs on
    merged's own inputs to it best match the weighted mean over the nets of
    their outputs of that layer.  Apply it last, after the points'
    corrections (and any BatchNorm reset): its inputs are measured on
    `merged` as given.

    transform, if given, maps each net's output rows (observations x C,
    float64) before the mean: e.g. rows divided by their norms when the
    outputs are compared by cosine, so the target is the mean of the unit
    vectors.  weights: the merge weights (default 1/N); ridge: the relative
    ridge (default mudsc.lsq.DEFAULT_RIDGE); batches: calibration inputs
    (one pass).  report, if a dict, receives rows, error_before and
    error_after (mudsc_lsq_error)."""
    module = dict(merged.named_modules()).get(layer)
    if module is None or getattr(module, "bias", None) is None:
        raise errors.NotFoundError.make(
            f"lsq_layer: merged has no module {layer!r} with a weight and a bias")
    out = copy.deepcopy(merged)
    lsq = Lsq.layer(model_from_state_dict(out.state_dict()), f"{layer}.weight", f"{layer}.bias",
                    len(nets), weights)
    with _evaluating(out, *nets):
        _stream(out, nets, layer, lsq, batches, max_batches, "lsq_layer", transform)
    errs = _solve_into(out, lsq, ridge)
    if report is not None:
        report.update(errs)
    return out
