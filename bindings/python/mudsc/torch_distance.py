"""ModelGiF from PyTorch: model_distance(), the functional distance of N
models over one input space by their gradient fields (docs/algorithm.md
section 14; the library's Field does the weighting, the path sums, the
products and the pairwise cosines in double).

Importing this module imports torch; mudsc.torch re-exports model_distance.
"""
from __future__ import annotations

import sys
import time
from typing import Any, Callable, Dict, Iterable, Optional, Sequence, Union

import numpy as np
import torch
from torch import nn

from . import errors
from .field import Field

__all__ = ["model_distance"]

Target = Union[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]]


def _split(batch: Any):
    if isinstance(batch, (tuple, list)):
        return batch[0], (batch[1] if len(batch) > 1 else None)
    return batch, None


def _scalar_fn(target: Target):
    """(outputs, labels, chosen) -> one scalar per input."""
    if callable(target):
        return lambda out, labels, chosen: target(out, labels)
    if target in ("label", "pred"):
        return lambda out, labels, chosen: out.gather(1, chosen.view(-1, 1)).view(-1)
    raise errors.InvalidArgumentError.make(
        f"model_distance: target must be 'label', 'pred' or a callable, got {target!r}")


def _numpy(t: torch.Tensor) -> np.ndarray:
    t = t.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    if t.dtype not in (torch.float16, torch.float32, torch.float64):
        t = t.to(torch.float32)
    return t.contiguous().numpy()


def model_distance(models: Sequence[nn.Module], batches: Iterable[Any],
                   baseline: Union[None, float, torch.Tensor,
                                   Callable[[torch.Tensor], torch.Tensor]] = None,
                   steps: int = 50, rule: str = "gauss-legendre", target: Target = "label",
                   max_batches: Optional[int] = None, step_chunk: Optional[int] = None,
                   progress: Union[None, bool, Callable[[int, int, float], Any]] = None,
                   return_field: bool = False, timings: Optional[Dict[str, float]] = None
                   ) -> Any:
    """The N x N ModelGiF distances (numpy float64) of `models` (any
    architectures taking the same inputs and giving (B, classes) outputs)
    over the inputs of `batches`, an iterable of (inputs, labels) like a
    DataLoader (labels may be absent unless target="label").

    baseline: None (zeros), a number, a tensor broadcastable to an input
    batch, or a callable inputs -> baselines.  steps, rule: the path's
    quadrature (mudsc.quadrature).  target: "label" (the output at the
    batch's label), "pred" (at each model's own predicted class on x) or a
    callable (outputs, labels) -> one scalar per input.

    The gradients come from autograd at the library's path points, step_chunk
    steps per forward (default: as many as keep step_chunk * B <= 512), for
    each model in turn, streamed step-major (the library then holds
    O(N * D * step_chunk * B) values).  Models run in eval mode (their mode
    is restored afterwards) with their parameters' gradients untouched.
    progress: True prints a line per batch to stderr; a callable gets
    (batches done, inputs done, seconds).  return_field: also return the
    Field (step_distances(), to_bytes(), merge with other shards).
    timings (a dict): receives 'library' and 'total' (wall seconds in the
    library's calls, binding included, and in the whole call), and
    'library_cpu' and 'total_cpu' (the same in process CPU seconds).
    """
    models = list(models)
    if len(models) < 2:
        raise errors.InvalidArgumentError.make("model_distance: need at least 2 models")
    score = _scalar_fn(target)
    field: Optional[Field] = None
    modes = [m.training for m in models]
    t_start, c_start = time.perf_counter(), time.process_time()
    lib_s = lib_c = 0.0
    done_batches = done_inputs = 0
    try:
        for m in models:
            m.eval()
        for bi, batch in enumerate(batches):
            if max_batches is not None and bi >= max_batches:
                break
            x, labels = _split(batch)
            if not torch.is_tensor(x):
                x = torch.as_tensor(x)
            if not torch.is_floating_point(x):
                x = x.to(torch.float32)
            bsz = x.shape[0]
            if bsz == 0:
                continue
            if target == "label" and labels is None:
                raise errors.InvalidArgumentError.make(
                    "model_distance: target='label' needs (inputs, labels) batches")
            if callable(baseline):
                b = baseline(x)
            elif baseline is None:
                b = torch.zeros_like(x)
            else:
                b = torch.as_tensor(baseline, dtype=x.dtype).expand_as(x)
            b = b.to(x.dtype).expand_as(x).contiguous()
            d = x[0].numel()
            chunk = step_chunk or max(1, 512 // bsz)
            if field is None:
                field = Field(len(models), d, rule=rule, steps=steps,
                              max_lead=max(chunk * bsz, 1))
                nodes, _ = field.points()
                k = field.steps
            elif field.input_size != d:
                raise errors.ShapeError.make(
                    f"model_distance: batch {bi} has inputs of {d} values, earlier ones {field.input_size}")
            if chunk * bsz > field._opts.max_lead:
                raise errors.InvalidArgumentError.make(
                    "model_distance: batches must not grow past the first one's size")
            t0, c0 = time.perf_counter(), time.process_time()
            field.begin(_numpy(x).reshape(bsz, d), _numpy(b).reshape(bsz, d))
            lib_s += time.perf_counter() - t0
            lib_c += time.process_time() - c0
            chosen = []
            for m in models:
                dev = next(iter(m.parameters()), torch.empty(0)).device
                if target == "label":
                    chosen.append(torch.as_tensor(labels).to(dev).long())
                elif target == "pred":
                    with torch.no_grad():
                        chosen.append(m(x.to(dev)).argmax(1))
                else:
                    chosen.append(None)
            diff = x - b
            for s0 in range(0, k, chunk):
                ts = nodes[s0:s0 + chunk]
                pts = torch.cat([b + float(t) * diff for t in ts], 0)
                for i, m in enumerate(models):
                    dev = next(iter(m.parameters()), torch.empty(0)).device
                    xi = pts.to(dev).detach().requires_grad_(True)
                    out = m(xi)
                    lab = None if labels is None else torch.as_tensor(labels).to(dev)
                    ch = None if chosen[i] is None else chosen[i].repeat(len(ts))
                    if callable(target) and lab is not None:
                        lab = lab.repeat(len(ts))
                    val = score(out, lab, ch)
                    if val.shape != (len(ts) * bsz,):
                        raise errors.ShapeError.make(
                            f"model_distance: target gives shape {tuple(val.shape)}, "
                            f"want one scalar per input ({len(ts) * bsz},)")
                    (g,) = torch.autograd.grad(val.sum(), xi)
                    arr = _numpy(g).reshape(len(ts) * bsz, d)
                    t0, c0 = time.perf_counter(), time.process_time()
                    field.update(i, arr)
                    lib_s += time.perf_counter() - t0
                    lib_c += time.process_time() - c0
            done_batches += 1
            done_inputs += bsz
            if progress is True:
                print(f"model_distance: batch {done_batches}, {done_inputs} inputs, "
                      f"{time.perf_counter() - t_start:.1f} s", file=sys.stderr, flush=True)
            elif callable(progress):
                progress(done_batches, done_inputs, time.perf_counter() - t_start)
    finally:
        for m, mode in zip(models, modes):
            m.train(mode)
    if field is None or field.inputs == 0:
        raise errors.InvalidArgumentError.make("model_distance: no inputs")
    t0, c0 = time.perf_counter(), time.process_time()
    dist = field.distances()
    lib_s += time.perf_counter() - t0
    lib_c += time.process_time() - c0
    if timings is not None:
        timings.update(library=lib_s, total=time.perf_counter() - t_start, library_cpu=lib_c,
                       total_cpu=time.process_time() - c_start)
    return (dist, field) if return_field else dist
