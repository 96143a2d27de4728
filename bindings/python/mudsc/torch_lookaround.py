"""Lookaround for PyTorch (Zhang et al., NeurIPS 2023): an SGD whose K heads
(copies of the network) each take steps on differently augmented data
from one common point, then are replaced by their average; the average
goes through libmudsc (mudsc_average, zero copy over the heads' tensors).
And average(): a one-off (optionally aligned) average of networks.

Semantics (those of the authors' public code, github Ardcy/Lookaround):
the caller calls step() once per batch, feeding head 0's loader, then head
1's, ..., head K-1's, then head 0's again (step n belongs to head n mod K,
which is the network's state when the batch of step n is evaluated).  Each
head has its own momentum buffers, which are never averaged or reset.
After every `frequency` steps of each head (K * frequency calls of step())
all heads are set to their mean.  After each step() the network holds the
next head's weights; right after an average step every head (and so the
network) holds the mean.  heads = 1 is plain SGD.
"""
from __future__ import annotations

import copy
import ctypes
from typing import Any, Callable, Iterable, List, Optional, Sequence, Union

import torch
from torch import nn
from torch.optim import Optimizer
from torch.optim.optimizer import required  # type: ignore[attr-defined]

from . import errors
from ._lib import AverageOptions, check, defaults, lib
from .averaging import average as _average
from .graph import Graph
from .matcher import Matcher
from .model import Model
from .torch import _numpy, model_from_state_dict, state_dict_from_model

__all__ = ["Lookaround", "average"]

try:  # torch >= 1.12: the functional SGD update of torch.optim.SGD
    from torch.optim.sgd import sgd as _sgd
except ImportError:  # pragma: no cover
    from torch.optim._functional import sgd as _sgd  # type: ignore[no-redef]

_FLOAT = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


class _Heads:
    """The K copies of one parameter group: K tensors per parameter (head
    0's are the parameters' own), and, when every parameter is a CPU
    contiguous float tensor, K Models borrowing them for mudsc_average."""

    def __init__(self, params: List[torch.Tensor], k: int) -> None:
        self.k = k
        self.tensors: List[List[torch.Tensor]] = [[p.data for p in params]]
        for _ in range(1, k):
            self.tensors.append([p.data.clone(memory_format=torch.contiguous_format)
                                 for p in params])
        self.models: Optional[List[Model]] = None
        if all(t.device.type == "cpu" and t.is_contiguous() and t.dtype in _FLOAT
               for t in self.tensors[0]):
            self.models = []
            for head in self.tensors:
                m = Model()
                for i, t in enumerate(head):
                    arr, dtype = _numpy(t)  # shares t's memory
                    m.add(str(i), arr, dtype=dtype)
                self.models.append(m)
            self._handles = (ctypes.c_void_p * k)(*[m._h for m in self.models])
            self._opts = defaults(AverageOptions)
            self._opts.threads = 1  # a training loop's own threads are torch's

    def average(self) -> None:
        """Every head := the mean of the heads."""
        if self.models is not None:
            check(lib.mudsc_average(self.models[0]._h, self.k, self._handles, None,
                                    ctypes.byref(self._opts)))
        else:  # CUDA or non-contiguous tensors: torch does it, in float64
            for i in range(len(self.tensors[0])):
                acc = self.tensors[0][i].double()
                for j in range(1, self.k):
                    acc += self.tensors[j][i].double()
                self.tensors[0][i].copy_(acc / self.k)
        for j in range(1, self.k):
            for dst, src in zip(self.tensors[j], self.tensors[0]):
                dst.copy_(src)


class Lookaround(Optimizer):
    """SGD with Lookaround's around and average steps.

    lr, momentum, dampening, weight_decay, nesterov: as torch.optim.SGD,
    applied to each head with that head's own momentum buffers.  heads: K
    (>= 1); frequency: steps of each head between two averages (>= 1), so
    the heads are averaged after every heads * frequency calls of step().
    Memory: K - 1 extra copies of the parameters and K momentum buffers.
    The parameters' storage (p.data) is switched between the heads' tensors
    by step(): do not keep references to p.data across steps.  state_dict()
    holds the per-head momentum buffers ("momentum_buffer_<h>") but not the
    heads' weights nor the step count: a run resumed from it restarts the
    heads from the network's weights at head 0.
    """

    def __init__(self, params: Iterable[Any], lr: float = required, momentum: float = 0,
                 dampening: float = 0, weight_decay: float = 0, nesterov: bool = False,
                 heads: int = 3, frequency: int = 1) -> None:
        if lr is not required and lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        if int(heads) != heads or heads < 1:
            raise ValueError(f"Invalid heads: {heads} (need an integer >= 1)")
        if int(frequency) != frequency or frequency < 1:
            raise ValueError(f"Invalid frequency: {frequency} (need an integer >= 1)")
        defaults_ = dict(lr=lr, momentum=momentum, dampening=dampening,
                         weight_decay=weight_decay, nesterov=nesterov, heads=int(heads),
                         frequency=int(frequency))
        super().__init__(params, defaults_)
        self._heads: List[Optional[_Heads]] = [None] * len(self.param_groups)
        #: calls of step() so far
        self.steps = 0

    def head(self) -> int:
        """The head the next step() updates (and the network now holds)."""
        return self.steps % self.param_groups[0]["heads"]

    @torch.no_grad()
    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        n = self.steps
        self._heads += [None] * (len(self.param_groups) - len(self._heads))  # add_param_group
        for g, group in enumerate(self.param_groups):
            k, f = group["heads"], group["frequency"]
            params = group["params"]
            if self._heads[g] is None:
                self._heads[g] = _Heads(params, k)
            heads = self._heads[g]
            r = n % k
            key = f"momentum_buffer_{r}"
            with_grad, grads, bufs = [], [], []
            for p in params:
                if p.grad is not None:
                    with_grad.append(p)
                    grads.append(p.grad)
                    bufs.append(self.state[p].get(key))
            _sgd(with_grad, grads, bufs, weight_decay=group["weight_decay"],
                 momentum=group["momentum"], lr=group["lr"], dampening=group["dampening"],
                 nesterov=group["nesterov"], maximize=False)
            for p, buf in zip(with_grad, bufs):
                self.state[p][key] = buf
            if n % (k * f) == k * f - 1:
                heads.average()
            nxt = heads.tensors[(r + 1) % k]
            for i, p in enumerate(params):
                p.data = nxt[i]
        self.steps += 1
        return loss


def average(models: Sequence[nn.Module], weights: Optional[Sequence[float]] = None,
            align: Union[None, Graph, Matcher] = None) -> nn.Module:
    """A new network (a deep copy of models[0]) holding the weighted average
    of the networks' state_dicts (mudsc.average: double sums rounded once;
    integer buffers such as BatchNorm's num_batches_tracked from models[0]).
    weights: one per network, summing to 1; None = 1/N.  align: a Graph to
    first align the networks by weight matching (the matcher's permutations
    onto models[0]), or a Matcher built and run by the caller over
    model_from_state_dict(net.state_dict()) of these networks; None = plain.
    Re-estimate BatchNorm statistics afterwards (reset_bn_stats) when the
    networks differ much."""
    if not models:
        raise errors.InvalidArgumentError.make("average: 'models' is empty")
    states = [model_from_state_dict(m.state_dict()) for m in models]
    merged = _average(states, weights=weights, align=align)
    out = copy.deepcopy(models[0])
    out.load_state_dict(state_dict_from_model(merged))
    return out
