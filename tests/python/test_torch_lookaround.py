"""mudsc.torch.Lookaround against the independent reference
tests/oracle/lookaround_ref.py (200 steps, same data, 1e-6 relative), K = 1
against torch.optim.SGD, the average step going through libmudsc over the
heads' own memory, and mudsc.torch.average (plain and aligned)."""
import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import mudsc  # noqa: E402
import mudsc.torch  # noqa: E402,F401
from lookaround_ref import LookaroundRef  # noqa: E402

torch.set_num_threads(1)


def _net(dtype, seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(),
                               torch.nn.Linear(8, 3)).to(dtype)


def _batches(dtype, k, steps, seed=1):
    """Step t's batch comes from head t mod K's stream (a different
    'augmentation' per head: a per-head shift and scale of the inputs)."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for t in range(steps):
        x = torch.randn(16, 6, generator=g, dtype=torch.float64)
        y = torch.randint(0, 3, (16,), generator=g)
        h = t % k
        out.append(((x * (1 + 0.1 * h) + 0.05 * h).to(dtype), y))
    return out


def _loss(net, batch):
    x, y = batch
    return torch.nn.functional.cross_entropy(net(x), y)


def _run_lookaround(dtype, steps, **kw):
    net = _net(dtype)
    opt = mudsc.torch.Lookaround(net.parameters(), **kw)
    for batch in _batches(dtype, kw.get("heads", 3), steps):
        opt.zero_grad()
        _loss(net, batch).backward()
        opt.step()
    return net, opt


def _run_ref(dtype, steps, **kw):
    net = _net(dtype)
    ref = LookaroundRef([p.detach() for p in net.parameters()], **kw)
    probe = copy.deepcopy(net)
    for batch in _batches(dtype, kw.get("heads", 3), steps):
        with torch.no_grad():
            for p, w in zip(probe.parameters(), ref.current()):
                p.copy_(w)
        probe.zero_grad()
        _loss(probe, batch).backward()
        ref.step([p.grad for p in probe.parameters()])
    return ref


def _rel(a, b):
    a, b = a.double(), b.double()
    return float((a - b).abs().max() / b.abs().max())


CASES = [
    dict(lr=0.1, heads=3, frequency=1),
    dict(lr=0.05, momentum=0.9, weight_decay=1e-3, heads=3, frequency=2),
    dict(lr=0.05, momentum=0.9, dampening=0.1, heads=2, frequency=3),
    dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=5e-4, heads=4, frequency=1),
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kw", CASES)
def test_matches_reference_after_200_steps(dtype, kw):
    steps = 200
    net, opt = _run_lookaround(dtype, steps, **kw)
    ref = _run_ref(dtype, steps, **kw)
    # the network holds head 200 mod K; every head is compared
    assert opt.head() == ref.t % ref.k
    for p, w in zip(net.parameters(), ref.current()):
        assert _rel(p.detach(), w) < 1e-6
    heads = opt._heads[0].tensors
    for j in range(ref.k):
        for got, want in zip(heads[j], ref.heads[j]):
            assert _rel(got, want) < 1e-6
    # the run did average: heads drift apart between averages, so a run whose
    # last step ends a cycle has all heads equal, others not
    k, f = kw["heads"], kw["frequency"]
    if steps % (k * f) != 0:
        assert any(not torch.equal(heads[0][0], heads[j][0]) for j in range(1, k))


def test_heads_equal_after_cycle_and_average_goes_through_library():
    kw = dict(lr=0.1, momentum=0.9, heads=3, frequency=2)
    net, opt = _run_lookaround(torch.float32, 12, **kw)
    heads = opt._heads[0]
    assert heads.models is not None  # CPU contiguous: the libmudsc path
    for j in range(1, 3):
        for a, b in zip(heads.tensors[0], heads.tensors[j]):
            assert torch.equal(a, b)
    # zero copy: the Models borrow the heads' own memory
    t = heads.tensors[1][0]
    assert heads.models[1].info("0").data == t.data_ptr()
    # the mean is the one-rounding mean of the heads before the average
    before = [[t.clone() for t in h] for h in heads.tensors]
    opt.zero_grad()
    _loss(net, _batches(torch.float32, 3, 1)[0]).backward()
    heads.average()
    want = ((before[0][0].double() + before[1][0].double() + before[2][0].double()) / 3).float()
    assert torch.equal(heads.tensors[0][0], want)


@pytest.mark.parametrize("kw", [dict(lr=0.1), dict(lr=0.05, momentum=0.9, weight_decay=1e-3),
                                dict(lr=0.05, momentum=0.9, nesterov=True)])
def test_one_head_is_sgd(kw):
    a = _net(torch.float32)
    b = _net(torch.float32)
    la = mudsc.torch.Lookaround(a.parameters(), heads=1, frequency=1, **kw)
    sb = torch.optim.SGD(b.parameters(), **kw)
    for batch in _batches(torch.float32, 1, 50):
        for net, opt in ((a, la), (b, sb)):
            opt.zero_grad()
            _loss(net, batch).backward()
            opt.step()
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


def test_bad_arguments():
    p = [torch.nn.Parameter(torch.zeros(2))]
    for kw in (dict(lr=-1), dict(lr=0.1, heads=0), dict(lr=0.1, frequency=0),
               dict(lr=0.1, momentum=-0.1), dict(lr=0.1, nesterov=True)):
        with pytest.raises(ValueError):
            mudsc.torch.Lookaround(p, **kw)


def test_torch_average_plain_and_aligned():
    nets = [_net(torch.float32, seed=s) for s in range(3)]
    avg = mudsc.torch.average(nets)
    for name, t in avg.state_dict().items():
        want = sum(n.state_dict()[name].double() for n in nets) / 3
        assert torch.equal(t, want.float())
    w = [0.2, 0.3, 0.5]
    avg = mudsc.torch.average(nets, weights=w)
    for name, t in avg.state_dict().items():
        want = sum(wi * n.state_dict()[name].double() for wi, n in zip(w, nets))
        assert torch.equal(t, want.float())
    # aligned: a copy of nets[0] with its hidden units permuted averages back to nets[0]
    perm = torch.tensor([5, 2, 7, 0, 1, 3, 6, 4])
    b = copy.deepcopy(nets[0])
    with torch.no_grad():
        b[0].weight.copy_(nets[0][0].weight[perm])
        b[0].bias.copy_(nets[0][0].bias[perm])
        b[2].weight.copy_(nets[0][2].weight[:, perm])
    graph = mudsc.Graph.mlp([8], layer_template="{i}", index_step=2)
    avg = mudsc.torch.average([nets[0], b], align=graph)
    for name, t in avg.state_dict().items():
        assert torch.equal(t, nets[0].state_dict()[name]), name
    plain = mudsc.torch.average([nets[0], b])
    assert not torch.equal(plain[0].weight, nets[0][0].weight)
