"""mudsc.torch.lsq_correct (bindings/python/mudsc/torch_lsq.py) on a small
Conv2d + Linear network, align and zip for N = 2, align for N = 3: every corrected layer
equals the oracle tests/oracle/lsq_ref.py (im2col written there, targets
and the ridge solve from docs/algorithm.md section 23) applied layer by
layer on the inputs of the net whose earlier layers are corrected; each
layer's error falls; a net merged with permuted copies of itself comes back."""
import numpy as np
import pytest
import torch
from torch import nn

import lsq_ref as ref
import mudsc
import mudsc.torch as mt

torch.set_num_threads(1)


class ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3, padding=1)
        self.conv2 = nn.Conv2d(6, 8, 3, stride=2, padding=1)
        self.fc1 = nn.Linear(8 * 4 * 4, 10)
        self.fc2 = nn.Linear(10, 4)

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        x = torch.relu(self.fc1(x.flatten(1)))
        return self.fc2(x)


LAYERS = ["conv1", "conv2", "fc1"]


def conv_graph():
    """Points named after their producer layers, observed at the layers'
    (pre-activation) outputs; fc1 consumes conv2's units 16 entries each."""
    g = mudsc.Graph()
    for name, width, consumer, repeat, axis in (("conv1", 6, "conv2", 1, 1),
                                                ("conv2", 8, "fc1", 16, 1),
                                                ("fc1", 10, "fc2", 1, -1)):
        g.add_point(name, width)
        g.set_site(name, name, axis)
        g.bind(name, f"{name}.weight", 0, "out")
        g.bind(name, f"{name}.bias", 0, "out")
        g.bind(name, f"{consumer}.weight", 1, "in", repeat=repeat)
    return g


def nets(n):
    out = []
    for seed in range(n):
        torch.manual_seed(seed)
        out.append(ConvNet().to(torch.float64).eval())
    return out


def batches():
    g = torch.Generator().manual_seed(5)
    return [torch.randn(16, 3, 8, 8, generator=g, dtype=torch.float64) for _ in range(3)]


def layer_input(net, name, x):
    seen = []
    h = dict(net.named_modules())[name].register_forward_hook(
        lambda m, i, o: seen.append((i[0].detach(), o.detach())))
    with torch.no_grad():
        net(x)
    h.remove()
    return seen[0]


def oracle(merged, sources, matcher, data, weights, ridge=1e-4):
    import copy
    net = copy.deepcopy(merged)
    for name in LAYERS:
        point = next(p for p in matcher.graph.points
                     if any(b.tensor == f"{name}.weight" and b.role == "out" for b in p.bindings))
        mod = dict(net.named_modules())[name]
        xs, ys = [], [[] for _ in sources]
        for x in data:
            inp, _ = layer_input(net, name, x)
            if isinstance(mod, nn.Conv2d):
                xs.append(ref.im2col(inp.numpy(), 3, 3, mod.stride[0], mod.padding[0]))
            else:
                xs.append(inp.reshape(len(inp), -1).numpy())
            for i, s in enumerate(sources):
                _, out = layer_input(s, name, x)
                ys[i].append(out.movedim(1, -1).reshape(-1, out.shape[1]).numpy()
                             if out.dim() == 4 else out.numpy())
        X = np.vstack(xs)
        T = ref.targets(matcher.assignment(point.name), [np.vstack(y) for y in ys],
                        matcher.point_result(point.name).merged_width, weights)
        w, b = ref.solve(X, T, mod.weight.detach().numpy(), mod.bias.detach().numpy(), ridge)
        with torch.no_grad():
            mod.weight.copy_(torch.from_numpy(w))
            mod.bias.copy_(torch.from_numpy(b))
    return net


# zip of three nets has merged widths other than the nets' (mudsc.torch.merge
# cannot load them into the architecture): test_lsq.py covers it on Models
@pytest.mark.parametrize("method,n", [("align", 2), ("zip", 2), ("align", 3)])
def test_lsq_correct_equals_the_oracle(method, n):
    sources, data = nets(n), batches()
    graph = conv_graph()
    weights = None if n == 2 else [0.5, 0.3, 0.2]
    merged, result = mt.merge(sources, graph, data, method=method, weights=weights)
    report = []
    fixed = mt.lsq_correct(merged, sources, result, data, weights=weights, report=report)
    expect = oracle(merged, sources, result.matrices._matcher, data, weights)
    got, want = fixed.state_dict(), expect.state_dict()
    for k in want:
        np.testing.assert_allclose(got[k].numpy(), want[k].numpy(), rtol=1e-6, atol=1e-6,
                                   err_msg=k)
    done = [r for r in report if "skipped" not in r]
    assert [r["point"] for r in done] == [p.name for p in graph.points][:len(done)]
    assert len(done) == 3
    # The first layer's merge already fits its targets exactly (the averaged
    # outputs are linear in the shared input), so there both errors are
    # rounding noise (~1e-16) and either may be the larger, depending on the
    # BLAS kernel; 1e-12 is far below the other points' errors (>= 1e-3).
    for r in done:
        assert r["error_after"] <= r["error_before"] + 1e-12
    assert done[-1]["error_after"] < 0.9 * done[-1]["error_before"]
    # the merged net is really changed (the test can fail)
    assert not torch.allclose(fixed.conv2.weight, merged.conv2.weight)


def test_a_net_merged_with_permuted_copies_of_itself_is_unchanged():
    base = nets(1)[0]
    data = batches()
    copies = [base]
    g = torch.Generator().manual_seed(1)
    for _ in range(2):
        c = ConvNet().to(torch.float64).eval()
        p1, p2, p3 = (torch.randperm(k, generator=g) for k in (6, 8, 10))
        with torch.no_grad():
            c.conv1.weight.copy_(base.conv1.weight[p1])
            c.conv1.bias.copy_(base.conv1.bias[p1])
            c.conv2.weight.copy_(base.conv2.weight[p2][:, p1])
            c.conv2.bias.copy_(base.conv2.bias[p2])
            w = base.fc1.weight.reshape(10, 8, 16)[p3][:, p2]
            c.fc1.weight.copy_(w.reshape(10, 128))
            c.fc1.bias.copy_(base.fc1.bias[p3])
            c.fc2.weight.copy_(base.fc2.weight[:, p3])
            c.fc2.bias.copy_(base.fc2.bias)
        copies.append(c)
    graph = conv_graph()
    merged, result = mt.merge(copies, graph, data, method="align")
    fixed = mt.lsq_correct(merged, copies, result, data)
    for k, v in merged.state_dict().items():
        np.testing.assert_allclose(fixed.state_dict()[k].numpy(), v.numpy(), rtol=1e-7,
                                   atol=1e-7, err_msg=k)
    x = data[0]
    with torch.no_grad():
        np.testing.assert_allclose(fixed(x).numpy(), base(x).numpy(), rtol=1e-7, atol=1e-7)
