"""mudsc.torch.repair (bindings/python/mudsc/torch_correct.py): on PyTorch
MLPs with and without BatchNorm, merged by mudsc.torch.merge at the
post-activation sites and repaired at the pre-activation sites, every merged
unit's statistics come out at their targets (the weighted mean of its
members', repair_ref.targets) and the norm rule scales the BatchNorm's
affine parameters, never the Linear before it."""
import numpy as np
import pytest
import torch
from torch import nn

import mudsc
import mudsc.torch as mt
import repair_ref as ref

torch.set_num_threads(1)


class BnMlp(nn.Module):
    def __init__(self, widths, bn):
        super().__init__()
        self.fc = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.bn = nn.ModuleList(nn.BatchNorm1d(w) if bn else nn.Identity() for w in widths[1:-1])

    def forward(self, x):
        for k, fc in enumerate(self.fc):
            x = fc(x)
            if k < len(self.bn):
                x = torch.relu(self.bn[k](x))
        return x


WIDTHS = [5, 12, 9, 3]


def bn_graph(site):
    g = mudsc.Graph()
    for k, w in enumerate(WIDTHS[1:-1]):
        g.add_point(f"p{k}", w)
        g.set_site(f"p{k}", f"bn.{k}" if site == "pre" else f"fc.{k + 1}:input", -1)
        for t in (f"fc.{k}.weight", f"fc.{k}.bias", f"bn.{k}.weight", f"bn.{k}.bias"):
            g.bind(f"p{k}", t, 0, "out")
        for t in (f"bn.{k}.running_mean", f"bn.{k}.running_var"):
            g.bind(f"p{k}", t, 0, "out", ignore=True)
        g.bind(f"p{k}", f"fc.{k + 1}.weight", 1, "in")
    return g


def nets_and_batches(bn):
    nets = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        net = BnMlp(WIDTHS, bn)
        if bn:
            for m in net.bn:  # non-trivial running statistics and affine parameters
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
                m.weight.data.uniform_(0.5, 1.5)
                m.bias.data.uniform_(-0.5, 0.5)
        nets.append(net.eval())
    g = torch.Generator().manual_seed(5)
    batches = [torch.randn(64, WIDTHS[0], generator=g) for _ in range(4)]
    return nets, batches


def check_targets(repaired, result, sources, graph, batches):
    from mudsc.torch_correct import _moments
    for p in graph.points:
        acc = sources[p.name]
        mu, sd = ref.targets(result.matrices._matcher.assignment(p.name), acc.means(),
                             acc.stddevs(), 2, result.scores[p.name].merged_width)
        mean, std = _moments(repaired, p, batches, None)
        np.testing.assert_allclose(mean, mu, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(std, sd, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("method", ["align", "zip"])
def test_bn_mlp_repair_moves_the_norm_and_reaches_the_targets(method):
    nets, batches = nets_and_batches(bn=True)
    post, pre = bn_graph("post"), bn_graph("pre")
    merged, result = mt.merge(nets, post, batches, method=method, alpha=0.5)
    sources = mt.collect_activations(nets, pre, batches)
    repaired = mt.repair(merged, nets, result, batches, graph=pre, sources=sources)
    check_targets(repaired, result, sources, pre, batches)
    sd_m, sd_r = merged.state_dict(), repaired.state_dict()
    assert torch.equal(sd_m["fc.0.weight"], sd_r["fc.0.weight"])  # the norm takes it
    assert not torch.allclose(sd_m["bn.0.weight"], sd_r["bn.0.weight"])


def plain_graph(site):
    """The plain MLP's graph, observed at the Linear's output ("pre"), at
    the nn.Identity after it ("identity": the same values, another module)
    or at the next Linear's input, after the ReLU ("post")."""
    g = mudsc.Graph()
    for k, w in enumerate(WIDTHS[1:-1]):
        g.add_point(f"p{k}", w)
        where = {"pre": f"fc.{k}", "identity": f"bn.{k}"}.get(site, f"fc.{k + 1}:input")
        g.set_site(f"p{k}", where, -1)
        g.bind(f"p{k}", f"fc.{k}.weight", 0, "out")
        g.bind(f"p{k}", f"fc.{k}.bias", 0, "out")
        g.bind(f"p{k}", f"fc.{k + 1}.weight", 1, "in")
    return g


def test_plain_mlp_repair_with_sources_collected_by_the_helper():
    nets, batches = nets_and_batches(bn=False)
    g = plain_graph("pre")
    merged, result = mt.merge(nets, g, batches, method="align", alpha=0.3)
    repaired = mt.repair(merged, nets, result, batches)
    sources = mt.collect_activations(nets, g, batches)
    check_targets(repaired, result, sources, g, batches)
    with pytest.raises(mudsc.InvalidArgumentError, match="points differ"):
        mt.repair(merged, nets, result, batches, graph=mudsc.Graph.mlp([12, 9]))


def pre_activations(net, batches, k):
    """Layer k's pre-activation values (the norm's output with BatchNorm, else
    the Linear's) over every batch, written out here from the forward pass."""
    rows = []
    with torch.no_grad():
        for x in batches:
            for j, fc in enumerate(net.fc):
                x = fc(x)
                if j < len(net.bn):
                    x = net.bn[j](x)
                    if j == k:
                        rows.append(x.double().numpy())
                        break
                    x = torch.relu(x)
    return np.concatenate(rows)


def pre_targets(nets, result, batches, k):
    """The targets of point p<k> from the source nets' pre-activation moments
    (population std), through the matcher's assignment (repair_ref.targets)."""
    z = [pre_activations(n, batches, k) for n in nets]
    mean = np.concatenate([v.mean(0) for v in z])
    std = np.concatenate([v.std(0) for v in z])
    return ref.targets(result.matrices._matcher.assignment(f"p{k}"), mean, std, 2,
                       result.scores[f"p{k}"].merged_width)


@pytest.mark.parametrize("bn", [False, True])
@pytest.mark.parametrize("method", ["align", "zip"])
def test_default_repair_corrects_the_pre_activations_of_a_post_activation_match(bn, method):
    # The matching observes after the ReLU (the builders' default site); the
    # correction is folded into the producer, so by default REPAIR must
    # measure the producer's output: there every unit reaches its targets.
    nets, batches = nets_and_batches(bn=bn)
    post = bn_graph("post") if bn else plain_graph("post")
    merged, result = mt.merge(nets, post, batches, method=method, alpha=0.5)
    repaired = mt.repair(merged, nets, result, batches)
    for k in range(len(WIDTHS) - 2):
        mu, sd = pre_targets(nets, result, batches, k)
        z = pre_activations(repaired, batches, k)
        np.testing.assert_allclose(z.mean(0), mu, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(z.std(0), sd, rtol=1e-4, atol=1e-5)
    # what the default did before: the post-activation moments pushed through
    # the pre-activation fold miss the pre-activation targets
    wrong = mt.repair(merged, nets, result, batches, graph=post)
    mu, sd = pre_targets(nets, result, batches, 0)
    z = pre_activations(wrong, batches, 0)
    assert np.max(np.abs(z.std(0) - sd)) > 1e-2


def test_pre_activation_graph_observes_each_producer():
    nets, _ = nets_and_batches(bn=True)
    pre = mt.pre_activation_graph(bn_graph("post"), nets)
    assert [(p.site, p.site_axis) for p in pre.points] == [("bn.0", -1), ("bn.1", -1)]
    plain = mudsc.Graph.mlp([12, 9])  # layers.{i}, observed after the ReLU
    assert [p.site for p in plain.points] == ["layers.1:input", "layers.2:input"]
    assert [p.site for p in mt.pre_activation_graph(plain).points] == ["layers.0", "layers.1"]
    # a residual stream (several producers) keeps its site
    res = mudsc.Graph.resnet("resnet20")
    moved = mt.pre_activation_graph(res)
    assert moved.point("layer1").site == res.point("layer1").site


def repair_both_ways(monkeypatch, merged, nets, result, batches, **kw):
    """mt.repair through the lockstep (one forward pass per batch) and
    through one pass per point (the definition), as state dicts, and how
    many points the lockstep handed over to one pass each."""
    import mudsc.torch_correct as tc
    calls = []
    one_pass = tc._moments
    monkeypatch.setattr(tc, "_moments", lambda *a: calls.append(1) or one_pass(*a))
    fast = mt.repair(merged, nets, result, batches, **kw).state_dict()
    handed_over = len(calls)
    monkeypatch.setattr(tc, "_LOCKSTEP", False)
    slow = mt.repair(merged, nets, result, batches, **kw).state_dict()
    monkeypatch.setattr(tc, "_LOCKSTEP", True)
    assert len(calls) == handed_over + len(WIDTHS) - 2  # the definition: a pass per point
    return fast, slow, handed_over


def reversed_bn_graph():
    """bn_graph("pre") with its points listed last layer first: the sites run
    out of graph order, so the lockstep must hand over to one pass per point."""
    g, src = mudsc.Graph(), bn_graph("pre")
    for p in reversed(src.points):
        g.add_point(p.name, p.width)
        g.set_site(p.name, p.site, p.site_axis)
        for b in p.bindings:
            g.bind(p.name, b.tensor, b.axis, b.role, ignore=b.ignore)
    return g


@pytest.mark.parametrize("case", ["bn", "plain", "identity-site", "reversed"])
@pytest.mark.parametrize("method", ["align", "zip"])
def test_lockstep_repair_equals_one_pass_per_point(monkeypatch, case, method):
    # bn, plain: the lockstep does every point; identity-site: the sites are
    # the Identity after each Linear while the correction changes the Linear,
    # so it stops after the first point; reversed: sites out of graph order,
    # so it hands every point over.  The same bits in every case.
    nets, batches = nets_and_batches(bn=case != "plain" and case != "identity-site")
    if case == "reversed":
        graph = reversed_bn_graph()
        match, kw = graph, {"graph": graph}
    elif case == "identity-site":
        graph = plain_graph("identity")
        match, kw = graph, {"graph": graph}
    else:
        match, kw = (bn_graph("post") if case == "bn" else plain_graph("post")), {}
    merged, result = mt.merge(nets, match, batches, method=method, alpha=0.5)
    fast, slow, handed_over = repair_both_ways(monkeypatch, merged, nets, result, batches, **kw)
    assert handed_over == {"bn": 0, "plain": 0, "identity-site": 1, "reversed": 2}[case]
    assert fast.keys() == slow.keys()
    for name in fast:
        assert torch.equal(fast[name], slow[name]), name
    # and the repair did something
    base = merged.state_dict()
    assert any(not torch.equal(base[n], fast[n]) for n in base)


def test_lockstep_repair_stops_each_pass_and_restores_the_hooks(monkeypatch):
    # the lockstep leaves no hook behind and keeps the merged net's mode;
    # max_batches limits both ways alike
    nets, batches = nets_and_batches(bn=True)
    merged, result = mt.merge(nets, bn_graph("post"), batches, method="zip", alpha=0.5)
    merged.train()
    fast, slow, handed_over = repair_both_ways(monkeypatch, merged, nets, result, batches,
                                               max_batches=2)
    assert handed_over == 0
    for name in fast:
        assert torch.equal(fast[name], slow[name]), name
    out = mt.repair(merged, nets, result, batches)
    assert out.training
    assert all(not m._forward_hooks for m in out.modules())
