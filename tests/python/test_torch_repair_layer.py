"""mudsc.torch.repair_layer (bindings/python/mudsc/torch_correct.py): REPAIR
of a layer whose units correspond by index in every net (docs/algorithm.md
17.5), here the head of PyTorch nets whose outputs share one space.  The
expected tensors come from NumPy: the nets' head outputs from a plain
forward pass, their moments, repair_ref.layer_targets / scale_shift / apply
(section 17), never from the code under test."""
import numpy as np
import pytest
import torch
from torch import nn

import mudsc
import mudsc.torch as mt
import repair_ref as ref

torch.set_num_threads(1)

WIDTHS = [6, 10, 8]
DIM = 5  # the head's units, shared by the nets


class HeadMlp(nn.Module):
    """Linear-BatchNorm-ReLU layers, then a Linear head "head"."""

    def __init__(self):
        super().__init__()
        self.fc = nn.ModuleList(nn.Linear(a, b) for a, b in zip(WIDTHS[:-1], WIDTHS[1:]))
        self.bn = nn.ModuleList(nn.BatchNorm1d(w) for w in WIDTHS[1:])
        self.head = nn.Linear(WIDTHS[-1], DIM)

    def forward(self, x):
        for fc, bn in zip(self.fc, self.bn):
            x = torch.relu(bn(fc(x)))
        return self.head(x)


class ConvHead(nn.Module):
    """A conv, then a 1x1 conv head "head": its units are the channels (axis 1)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.head = nn.Conv2d(4, DIM, 1)

    def forward(self, x):
        return self.head(torch.relu(self.conv(x)))


def graph():
    g = mudsc.Graph()
    for k, w in enumerate(WIDTHS[1:]):
        g.add_point(f"p{k}", w)
        g.set_site(f"p{k}", f"bn.{k}", -1)
        for t in (f"fc.{k}.weight", f"fc.{k}.bias", f"bn.{k}.weight", f"bn.{k}.bias"):
            g.bind(f"p{k}", t, 0, "out")
        for t in (f"bn.{k}.running_mean", f"bn.{k}.running_var"):
            g.bind(f"p{k}", t, 0, "out", ignore=True)
        g.bind(f"p{k}", f"fc.{k + 1}.weight" if k + 1 < len(WIDTHS) - 1 else "head.weight",
               1, "in")
    return g


def make_nets(cls=HeadMlp, seeds=(0, 1)):
    nets = []
    for seed in seeds:
        torch.manual_seed(seed)
        net = cls()
        for m in net.modules():  # non-trivial running statistics and affine parameters
            if isinstance(m, nn.BatchNorm1d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
                m.weight.data.uniform_(0.5, 1.5)
                m.bias.data.uniform_(-0.5, 0.5)
        nets.append(net.eval())
    return nets


def batches(shape=(WIDTHS[0],)):
    g = torch.Generator().manual_seed(7)
    return [torch.randn(48, *shape, generator=g) for _ in range(3)]


def head_moments(net, data):
    """The head's output moments (population std), per unit (axis 1), from
    the net's own forward pass in float64 NumPy."""
    with torch.no_grad():
        out = torch.cat([net(x) for x in data]).double().numpy()
    out = np.moveaxis(out, 1, -1).reshape(-1, out.shape[1])
    return out.mean(axis=0), out.std(axis=0)


def expected(merged, nets, data, weights=None):
    """merged's state dict with the head's rows and bias folded by the rule."""
    src = [head_moments(n, data) for n in nets]
    mu, sd = ref.layer_targets([s[0] for s in src], [s[1] for s in src], weights)
    s, t = ref.scale_shift(mu, sd, *head_moments(merged, data))
    tensors = {k: v.double().numpy() for k, v in merged.state_dict().items()
               if k.startswith("head.")}
    return ref.apply(tensors, ["head.weight", "head.bias"], "head.bias", s, t), (mu, sd)


@pytest.mark.parametrize("method", ["align", "zip"])
@pytest.mark.parametrize("weights", [None, (0.25, 0.75)])
def test_head_repair_equals_the_oracle_after_repair_of_the_points(method, weights):
    nets, data = make_nets(), batches()
    merged, result = mt.merge(nets, graph(), data, method=method, alpha=0.5, weights=weights)
    merged = mt.repair(merged, nets, result, data, weights=weights)
    got = mt.repair_layer(merged, nets, "head", data, weights=weights)
    expect, (mu, sd) = expected(merged, nets, data, weights)
    sd_got, sd_merged = got.state_dict(), merged.state_dict()
    for k, v in expect.items():
        np.testing.assert_allclose(sd_got[k].double().numpy(), v, rtol=1e-6, atol=1e-6,
                                   err_msg=k)
    assert not torch.allclose(sd_got["head.weight"], sd_merged["head.weight"])
    for k in sd_got:  # only the head changes; merged itself is left as it was
        if not k.startswith("head."):
            assert torch.equal(sd_got[k], sd_merged[k]), k
    assert torch.equal(merged.state_dict()["head.weight"], sd_merged["head.weight"])
    mean, std = head_moments(got, data)
    np.testing.assert_allclose(mean, mu, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(std, sd, rtol=1e-4, atol=1e-5)


def test_head_repair_with_sources_given_and_a_second_call_changes_nothing():
    nets, data = make_nets(), batches()
    merged, _ = mt.merge(nets, graph(), data, method="zip", alpha=0.3)
    sources = [mt.layer_moments(n, "head", data) for n in nets]
    for (m, s), (em, es) in zip(sources, (head_moments(n, data) for n in nets)):
        np.testing.assert_allclose(m, em, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(s, es, rtol=1e-12, atol=1e-12)
    once = mt.repair_layer(merged, nets, "head", data, sources=sources)
    default = mt.repair_layer(merged, nets, "head", data)
    for k, v in once.state_dict().items():
        assert torch.equal(v, default.state_dict()[k]), k
    twice = mt.repair_layer(once, nets, "head", data, sources=sources)
    for k, v in once.state_dict().items():
        torch.testing.assert_close(twice.state_dict()[k], v, rtol=1e-5, atol=1e-6)


def test_a_net_merged_with_itself_keeps_its_head():
    net = make_nets(seeds=(3,))[0]
    data = batches()
    merged, result = mt.merge([net, net], graph(), data, method="zip", alpha=0.5)
    merged = mt.repair(merged, [net, net], result, data)
    got = mt.repair_layer(merged, [net, net], "head", data)
    for k in ("head.weight", "head.bias"):
        torch.testing.assert_close(got.state_dict()[k], net.state_dict()[k], rtol=1e-5,
                                   atol=1e-5)


def test_a_conv_head_is_corrected_per_channel():
    nets, data = make_nets(ConvHead), batches((2, 5, 5))
    merged = ConvHead().eval()
    with torch.no_grad():  # the plain average: the head's units correspond by index
        for p, a, b in zip(merged.parameters(), nets[0].parameters(), nets[1].parameters()):
            p.copy_((a + b) / 2)
    got = mt.repair_layer(merged, nets, "head", data)
    expect, (mu, sd) = expected(merged, nets, data)
    for k, v in expect.items():
        np.testing.assert_allclose(got.state_dict()[k].double().numpy(), v, rtol=1e-6,
                                   atol=1e-6, err_msg=k)
    mean, std = head_moments(got, data)
    np.testing.assert_allclose(std, sd, rtol=1e-4, atol=1e-5)


def test_bad_arguments_are_refused():
    nets, data = make_nets(), batches()
    with pytest.raises(mudsc.InvalidArgumentError, match="repair_layer: the net has no module"):
        mt.repair_layer(nets[0], nets, "tail", data)
    nobias = make_nets()
    nobias[0].head = nn.Linear(WIDTHS[-1], DIM, bias=False)
    with pytest.raises(mudsc.InvalidArgumentError, match="needs a weight and a bias"):
        mt.repair_layer(nobias[0], nets, "head", data)
    with pytest.raises(mudsc.InvalidArgumentError, match="1 sources for 2 nets"):
        mt.repair_layer(nets[0], nets, "head", data, sources=[mt.layer_moments(nets[0], "head",
                                                                              data)])
    with pytest.raises(mudsc.InvalidArgumentError, match="layer_moments: the net has no module"):
        mt.layer_moments(nets[0], "tail", data)
