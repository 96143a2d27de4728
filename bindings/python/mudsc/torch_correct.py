"""PyTorch helpers of issue 18 (beyond the paper's accuracy):
mudsc.torch.repair collects the merged network's statistics point by point
and applies REPAIR (correct.h, docs/algorithm.md section 17);
mudsc.torch.repair_layer applies it to a layer whose units correspond by
index in every net (a shared output layer, section 17.5);
mudsc.torch.search_alpha scores a set of alphas on held-out data
(mudsc_matcher_search_alpha, section 18).  Re-exported by mudsc.torch."""
from __future__ import annotations

import copy
from typing import Any, Iterable, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from . import errors
from .correct import _matcher_of
from .correct import repair as _repair
from .graph import Graph, Point, site_module
from .matcher import Matcher
from .stats import Stats
from .torch import (_batches, _device, _hook_value, _input, _point_features,
                    collect_activations, model_from_state_dict, state_dict_from_model)


class _Seen(Exception):
    """Raised by _moments' hook once the site is observed: stops the forward."""


def _site_value(point: Point, observe_input: bool, inputs: Tuple[Any, ...],
                output: Any) -> torch.Tensor:
    """The features a forward hook sees at point's site, as a float64 CPU
    matrix (observations x units)."""
    value = _hook_value(inputs[0] if observe_input else output)
    return _features(_point_features(value, point), point.site_axis)


def _features(value: torch.Tensor, axis: int) -> torch.Tensor:
    """value as a float64 CPU matrix (observations x units), the units
    along `axis`."""
    x = value.detach().to(torch.float64).movedim(axis, -1)
    return x.reshape(-1, x.shape[-1]).cpu()


def _accumulate(sums: dict, x: torch.Tensor) -> None:
    """Adds one batch's observations to the shifted sums (shifted by the
    first batch's mean, so the variance does not cancel)."""
    if sums["s1"] is None:
        sums["shift"] = x.mean(dim=0)
        sums["s1"] = torch.zeros(x.shape[1], dtype=torch.float64)
        sums["s2"] = torch.zeros(x.shape[1], dtype=torch.float64)
    xc = x - sums["shift"]
    sums["n"] += x.shape[0]
    sums["s1"] += xc.sum(dim=0)
    sums["s2"] += (xc * xc).sum(dim=0)


def _new_sums() -> dict:
    return {"n": 0, "s1": None, "s2": None}


def _finish(sums: dict) -> Tuple[np.ndarray, np.ndarray]:
    """(means, population stds) of the accumulated observations."""
    if sums["n"] == 0:
        raise errors.InvalidArgumentError.make("repair: no batches")
    m = sums["s1"] / sums["n"]
    var = torch.clamp(sums["s2"] / sums["n"] - m * m, min=0.0)
    return (m + sums["shift"]).numpy(), torch.sqrt(var).numpy()


def _site_of(net: nn.Module, point: Point) -> Tuple[str, nn.Module, bool]:
    module_name, observe_input = site_module(point.site)
    module = dict(net.named_modules()).get(module_name)
    if module is None:
        raise errors.InvalidArgumentError.make(
            f"repair: the merged net has no module {module_name!r} (site of {point.name!r})")
    return module_name, module, observe_input


def _moments(net: nn.Module, point: Point, batches: Iterable[Any],
             max_batches: Optional[int]) -> Tuple[np.ndarray, np.ndarray]:
    """The (means, population stds) of net's features at point's site, in
    float64 over every observation (eval mode, no_grad): one pass over the
    batches, each stopped once the site has been observed."""
    _, module, observe_input = _site_of(net, point)
    return _module_moments(net, module, point.site_axis, observe_input, batches, max_batches)


def _module_moments(net: nn.Module, module: nn.Module, axis: int, observe_input: bool,
                    batches: Iterable[Any],
                    max_batches: Optional[int]) -> Tuple[np.ndarray, np.ndarray]:
    """_moments at module's output (or input), the units along `axis`."""
    sums = _new_sums()

    def hook(mod: nn.Module, inputs: Tuple[Any, ...], output: Any) -> None:
        _accumulate(sums, _features(_hook_value(inputs[0] if observe_input else output), axis))
        raise _Seen()  # the rest of the forward pass is not needed

    handle = module.register_forward_hook(hook)
    mode = net.training
    try:
        net.eval()
        with torch.no_grad():
            for batch in _batches(batches, max_batches):
                try:
                    net(_input(batch).to(_device(net)))
                except _Seen:
                    pass
    finally:
        handle.remove()
        net.train(mode)
    return _finish(sums)


class _Stop(Exception):
    """Raised inside a lockstep worker's forward pass to end it."""


class _Lockstep:
    """REPAIR's measurements in one forward pass per batch (the exact
    equivalent of one pass per point, _moments, when the points' sites run
    in graph order and each point's correction changes only its site
    module's own tensors, the pre-activation sites' case).

    Every batch runs its forward pass in a thread of its own; one thread runs
    at a time (a baton, so the work and the sums' order are those of the
    sequential passes).  At point k's site module each batch hands over the
    site's features and waits; once every batch has, the caller corrects
    point k (the site module's tensors change in place), and each batch goes
    on with the site module's output recomputed by the corrected module, the
    value a fresh pass over the corrected network computes there, since
    nothing before the site depends on the correction.  Anything else (a
    site reached out of order or not at all, an error in the forward pass,
    a correction that changes other modules' tensors) stops the lockstep;
    the caller then measures the remaining points one pass each."""

    def __init__(self, net: nn.Module, inputs: Sequence[Any],
                 sites: Sequence[Tuple[Point, str, nn.Module]]) -> None:
        import threading
        self.net, self.inputs, self.sites = net, inputs, sites
        self.index = {id(m): k for k, (_, _, m) in enumerate(sites)}
        self.k = 0
        self.stop = False
        self.go = [threading.Semaphore(0) for _ in inputs]
        self.back = threading.Semaphore(0)
        self.msg: list = [None] * len(inputs)
        self.local = threading.local()
        self.threads = [threading.Thread(target=self._run, args=(b,), daemon=True)
                        for b in range(len(inputs))]
        self.handles = [m.register_forward_hook(self._hook) for _, _, m in sites]
        self.started = False

    def _run(self, b: int) -> None:
        self.local.b = b
        self.go[b].acquire()
        msg: Tuple[str, Any] = ("end", None)
        try:
            if not self.stop:
                with torch.no_grad():
                    self.net(self.inputs[b])
        except _Stop:
            pass
        except BaseException as e:  # noqa: B902  (handed to the caller, which falls back)
            msg = ("error", e)
        self.msg[b] = msg
        self.back.release()

    def _hook(self, mod: nn.Module, inputs: Tuple[Any, ...], output: Any) -> Any:
        b = getattr(self.local, "b", None)
        if b is None:  # not a lockstep pass
            return None
        k = self.index[id(mod)]
        if k < self.k:  # a later call of a corrected point's module
            return None
        if self.stop or k > self.k:  # ended, or sites out of graph order
            raise _Stop()
        self.msg[b] = ("seen", _site_value(self.sites[k][0], False, inputs, output))
        self.back.release()
        self.go[b].acquire()
        if self.stop:
            raise _Stop()
        return mod.forward(*inputs)  # point k corrected: its output anew

    def _step(self, b: int) -> Tuple[str, Any]:
        self.go[b].release()
        self.back.acquire()
        return self.msg[b]

    def measure(self, k: int) -> Optional[Tuple[np.ndarray, np.ndarray]]:
        """Point k's moments, every batch run on to its site; None when the
        lockstep cannot give them (then it has stopped)."""
        if not self.started:
            for t in self.threads:
                t.start()
            self.started = True
        self.k = k
        sums = _new_sums()
        for b in range(len(self.inputs)):
            kind, value = self._step(b)
            if kind != "seen":
                self.close()
                return None
            _accumulate(sums, value)
        return _finish(sums)

    def close(self) -> None:
        """Ends every batch's pass and removes the hooks."""
        self.stop = True
        if self.started:
            for b, t in enumerate(self.threads):
                if t.is_alive() and (self.msg[b] is None or self.msg[b][0] == "seen"):
                    self.go[b].release()
            for t in self.threads:
                t.join()
        for h in self.handles:
            h.remove()
        self.handles = []


_LOCKSTEP = True  # False: one pass per point (the definition; tests compare the two)


def _producers(graph: Graph, nets: Optional[Sequence[nn.Module]]) -> dict:
    """Point name -> the module whose output the point's units are, by the
    rule mudsc_repair folds its correction into (docs/algorithm.md 17.2):
    among the OUT bindings (whole tensors, axis 0, not ignored) exactly one
    norm N ("N.weight" and "N.bias", N a BatchNorm, LayerNorm or GroupNorm
    of nets[0]), else exactly two tensors "X.weight" and "X.bias"; None
    when neither rule applies (a residual stream, split parts)."""
    modules = dict(nets[0].named_modules()) if nets else {}
    norm_types = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)
    found = {}
    for point in graph.points:
        outs = [b for b in point.bindings if b.role == "out" and not b.ignore]
        names = [b.tensor for b in outs]
        found[point.name] = None
        if any(b.part is not None or b.axis != 0 for b in outs):
            continue
        paired = [t[:-len(".weight")] for t in names
                  if t.endswith(".weight") and t[:-len(".weight")] + ".bias" in names]
        norms = [m for m in paired if isinstance(modules.get(m), norm_types)]
        if len(norms) == 1:
            found[point.name] = norms[0]
        elif len(names) == 2 and len(paired) == 1:
            found[point.name] = paired[0]
    return found


def pre_activation_graph(graph: Graph, nets: Optional[Sequence[nn.Module]] = None) -> Graph:
    """A copy of graph whose points observe their producer's output (the
    pre-activation site: the norm's output when the point has one, else
    the layer's), the site REPAIR's correction is exact at (docs/algorithm.md
    17.2); points without a single producer keep their site.  The feature
    axis is kept.  nets (optional): the modules are looked up there to tell
    a norm (BatchNorm, LayerNorm, GroupNorm) from a layer."""
    g = Graph.from_json(graph.to_json())
    found = _producers(graph, nets)
    for point in graph.points:
        producer = found[point.name]
        if producer is not None and point.site is not None:
            # a point observed on a slice of its producer's output keeps its slice
            same = site_module(point.site) == (producer, False)
            g.set_site(point.name, producer, point.site_axis, point.site_offset if same else 0)
    return g


def repair(merged: nn.Module, nets: Sequence[nn.Module], result: Any, batches: Iterable[Any],
           graph: Optional[Graph] = None, sources: Optional[Stats] = None,
           weights: Optional[Sequence[float]] = None, min_std: Optional[float] = None,
           max_batches: Optional[int] = None) -> nn.Module:
    """REPAIR a merged network: a deep copy of `merged` in which every merged
    unit's mean and standard deviation on `batches` equal the weighted mean
    of its source units' (mudsc.repair, correct.h).

    result: mudsc.torch.merge's MergeResult (or the Matcher).  graph: the
    graph whose sites give the statistics, with the matcher's point names
    and widths: the pre-activation sites (e.g. Graph.mlp(..., site="pre"),
    Graph.resnet(site="pre")); default pre_activation_graph(the matcher's
    graph, nets): each point observed at its producer's output, whatever
    site the matching used (the builders' default, after the activation,
    would make the fold approximate: a pre-activation affine map correcting
    post-activation moments).  sources:
    the source nets' Stats at those sites (default: collected here from
    `nets` on `batches`; a caller repairing several merges of the same
    nets collects them once, at the same graph's sites).  Points are
    corrected in graph order, each measured on the net whose earlier points
    are already corrected, at the first call of its site module in a
    forward pass.  That is one pass over the batches per point by
    definition; done as one forward pass per batch, paused at each site
    until the point is corrected (the same bits, about a point count's
    fewer passes), while the sites run in graph order at a module's output
    and each correction changes only its site module, the pre-activation
    sites' case; one pass per point from the first point that does not.
    Memory: every batch's forward state at once.  Points REPAIR cannot correct (several
    producers, no bias) are left as merged.  batches must be re-iterable
    (a list or a DataLoader).  weights: the merge weights (default 1/N)."""
    matcher = _matcher_of(result)
    g = graph if graph is not None else pre_activation_graph(matcher.graph, nets)
    if g.point_names != matcher.graph.point_names:
        raise errors.InvalidArgumentError.make(
            "repair: graph's points differ from the matcher's graph's")
    # by default, points without a single producer (residual streams) are
    # not measured: mudsc_repair would leave them as merged anyway
    skip = set() if graph is not None else {
        name for name, prod in _producers(matcher.graph, nets).items() if prod is None}
    if sources is None:
        sources = collect_activations(nets, g, batches, max_batches=max_batches)
    out = copy.deepcopy(merged)
    points = [p for p in g.points if p.site is not None and p.name not in skip]

    def correct(point: Point, stats: Tuple[np.ndarray, np.ndarray]) -> set:
        """Folds point's correction into out; the names of the tensors it changed."""
        before = out.state_dict()
        model = model_from_state_dict(before)
        fixed = _repair(matcher, model, sources, {point.name: stats}, weights=weights,
                        min_std=min_std)
        after = state_dict_from_model(fixed, copy=True)
        changed = {n for n, t in after.items() if not torch.equal(t, before[n])}
        out.load_state_dict(after)
        return changed

    done = 0
    if _LOCKSTEP and points:
        # the lockstep's sites: the leading points observed at a module's
        # output, each module once
        sites, seen = [], set()
        modules = dict(out.named_modules())
        for point in points:
            name, observe_input = site_module(point.site)
            module = modules.get(name)
            if module is None or observe_input or id(module) in seen:
                break
            seen.add(id(module))
            sites.append((point, name, module))
        if sites:
            mode = out.training
            out.eval()
            inputs = [_input(batch).to(_device(out)) for batch in _batches(batches, max_batches)]
            step = _Lockstep(out, inputs, sites)
            try:
                for point, name, _ in sites:
                    stats = step.measure(done)
                    if stats is None:
                        break
                    changed = correct(point, stats)
                    done += 1
                    if any(not n.startswith(name + ".") for n in changed):
                        break  # the corrected tensors are not all the site's own
            finally:
                step.close()
                out.train(mode)
    for point in points[done:]:
        correct(point, _moments(out, point, batches, max_batches))
    return out


def _layer_module(net: nn.Module, layer: str, fn: str) -> nn.Module:
    """net's module `layer`, which must have a weight and a bias."""
    module = dict(net.named_modules()).get(layer)
    if module is None:
        raise errors.InvalidArgumentError.make(f"{fn}: the net has no module {layer!r}")
    if getattr(module, "weight", None) is None or getattr(module, "bias", None) is None:
        raise errors.InvalidArgumentError.make(
            f"{fn}: layer {layer!r} needs a weight and a bias (the correction's fold)")
    return module


def layer_moments(net: nn.Module, layer: str, batches: Iterable[Any], axis: int = 1,
                  max_batches: Optional[int] = None) -> Tuple[np.ndarray, np.ndarray]:
    """The (means, population stds) of the output of net's module `layer`
    on `batches`, per unit (the units along `axis` of the output: 1 for a
    Linear or a conv), in float64 over every observation (eval mode,
    no_grad; the forward pass stops at the layer).  What repair_layer
    measures; a caller correcting several merges of the same nets collects
    the sources' once and passes them as its `sources`."""
    module = _layer_module(net, layer, "layer_moments")
    return _module_moments(net, module, axis, False, batches, max_batches)


def repair_layer(merged: nn.Module, nets: Sequence[nn.Module], layer: str,
                 batches: Iterable[Any],
                 sources: Optional[Sequence[Tuple[np.ndarray, np.ndarray]]] = None,
                 weights: Optional[Sequence[float]] = None, min_std: Optional[float] = None,
                 axis: int = 1, max_batches: Optional[int] = None) -> nn.Module:
    """REPAIR of one layer whose units correspond by index in every net (a
    shared output layer: an embedding compared with fixed class embeddings,
    or logits over the same classes), which no point matches, so the merge
    averages it unpermuted and its output's spread collapses as a hidden
    unit's does (mudsc.repair_layer, correct.h; docs/algorithm.md 17.5).

    A deep copy of `merged` in which unit j of `layer`'s output (a module
    with a weight and a bias: a Linear or a conv; units along `axis`) has on
    `batches` the weighted mean over the nets of their unit j's mean and
    standard deviation, folded into the layer's weight rows and bias.  The
    merged statistics are measured on `merged` as given: apply this last,
    after mudsc.torch.repair of the points (and any BatchNorm reset).
    sources: per net, layer_moments(net, layer, batches) (default: measured
    here); weights: the merge weights (default 1/N); min_std: as
    mudsc.repair.  batches must be re-iterable when sources is None."""
    from .correct import repair_layer as _repair_layer
    _layer_module(merged, layer, "repair_layer")
    if sources is None:
        sources = [layer_moments(net, layer, batches, axis, max_batches) for net in nets]
    if len(sources) != len(nets):
        raise errors.InvalidArgumentError.make(
            f"repair_layer: {len(sources)} sources for {len(nets)} nets")
    stats = layer_moments(merged, layer, batches, axis, max_batches)
    model = model_from_state_dict(merged.state_dict())
    fixed = _repair_layer(model, f"{layer}.weight", f"{layer}.bias", sources, stats,
                          weights=weights, min_std=min_std)
    out = copy.deepcopy(merged)
    out.load_state_dict(state_dict_from_model(fixed, copy=True))
    return out


def _matcher(nets: Sequence[nn.Module], graph: Graph, batches: Optional[Iterable[Any]],
             activations: Optional[Stats], fn: str, method: Optional[str],
             opts: Any) -> Matcher:
    """A Matcher over the nets' state dicts with the statistics of `batches`
    (collected here) or `activations` (given) installed."""
    if batches is not None and activations is not None:
        raise errors.InvalidArgumentError.make(f"{fn}: give 'batches' or 'activations', not both")
    models = [model_from_state_dict(net.state_dict()) for net in nets]
    matcher = Matcher(graph, models, method=method, **opts)
    if batches is not None:
        activations = collect_activations(nets, graph, batches)
    if activations is not None:
        matcher.set_stats(activations)
    return matcher


def search_alpha(nets: Sequence[nn.Module], graph: Graph, alphas: Sequence[float],
                 score: Any, batches: Optional[Iterable[Any]] = None,
                 activations: Optional[Stats] = None, method: Optional[str] = None,
                 weights: Optional[Sequence[float]] = None, per_point: bool = False,
                 rounds: int = 1, **opts: Any) -> Tuple[nn.Module, Any, Any, Matcher]:
    """Alpha search over networks (Matcher.search_alpha,
    mudsc_matcher_search_alpha): the statistics are collected once (from
    `batches`, or given as `activations`, a Stats of collect_activations),
    then for each alpha the matcher runs, merges, and score(net) -> float
    (higher is better: e.g. accuracy on held-out data, never the test set)
    scores a deep copy of nets[0] holding the candidate.  method and opts as
    mudsc.Matcher.  Returns (the best candidate's net, its alpha, every
    alpha's score, the Matcher holding the best candidate's results).
    per_point=True: per-point alphas (Matcher.search_point_alphas,
    docs/algorithm.md section 24): the global search, then up to `rounds`
    coordinate rounds over the points; the second and third entries are then
    the per-point alphas (a dict point name -> alpha) and the best score."""
    matcher = _matcher(nets, graph, batches, activations, "search_alpha", method, opts)

    def as_net(model: Any) -> nn.Module:
        net = copy.deepcopy(nets[0])
        net.load_state_dict(state_dict_from_model(model, copy=True))
        return net

    if per_point:
        point_alphas, best_score = matcher.search_point_alphas(
            alphas, lambda model, alpha: score(as_net(model)), rounds=rounds, weights=weights)
        return (as_net(matcher.merge(weights)), dict(zip(graph.point_names, point_alphas)),
                best_score, matcher)
    best, scores = matcher.search_alpha(alphas, lambda model, alpha: score(as_net(model)),
                                        weights=weights)
    return as_net(matcher.merge(weights)), best, scores, matcher


class MultiHead(nn.Module):
    """A partially zipped network: nets[i] is source model i's architecture
    holding the merged trunk and its own head; the trunk modules are one set
    of modules shared by every nets[i] (so parameters() counts them once).
    forward(x) returns [nets[i](x) for each i] (the trunk is computed once
    per head)."""

    def __init__(self, nets: Sequence[nn.Module]) -> None:
        super().__init__()
        self.nets = nn.ModuleList(nets)

    def forward(self, x: Any) -> list:
        return [net(x) for net in self.nets]


def parameter_count(net: nn.Module) -> int:
    """Parameters of net, each shared tensor counted once."""
    return sum(p.numel() for p in net.parameters())


def _set_module(root: nn.Module, path: str, module: nn.Module) -> None:
    parent, _, leaf = path.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, leaf, module)


def partial_zip(nets: Sequence[nn.Module], graph: Graph, depth: int,
                batches: Optional[Iterable[Any]] = None, activations: Optional[Stats] = None,
                method: Optional[str] = None, weights: Optional[Sequence[float]] = None,
                **opts: Any) -> Tuple[MultiHead, Any]:
    """Partial zipping (mudsc_partial_merge, docs/algorithm.md section 19):
    match and merge graph's first `depth` points (statistics from `batches`
    or `activations`), keep one head per source net.  Returns (a MultiHead
    whose nets share the trunk modules, the trunk + heads Model with names
    "<name>" for the trunk and "heads.<i>.<name>" for head i)."""
    from .partial import head_names, partial_merge
    trunk = graph.prefix(depth)
    matcher = _matcher(nets, trunk, batches, activations, "partial_zip", method, opts)
    matcher.run()
    model = partial_merge(matcher, weights=weights)
    state = state_dict_from_model(model, copy=True)
    heads = []
    for i, net in enumerate(nets):
        copy_i = copy.deepcopy(net)
        copy_i.load_state_dict({k: state[v] for k, v in head_names(model, i).items()})
        heads.append(copy_i)
    shared = {n.rsplit(".", 1)[0] for n in model.names()
              if not n.startswith("heads.") and "." in n}
    for copy_i in heads[1:]:
        for path in shared:
            _set_module(copy_i, path, heads[0].get_submodule(path))
    return MultiHead(heads), model
