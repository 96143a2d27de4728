"""mudsc.torch on a real ResNet-20 (BatchNorm) and a ViT (timm layout):
state_dict <-> Model without copies, collect_activations equal to statistics
computed by hand from the same hooked features, a network merged with a
randomly permuted copy of itself is the network, and reset_bn_stats equals
the per-channel batch statistics averaged by hand."""
import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import mudsc  # noqa: E402
import mudsc.torch as mt  # noqa: E402
import nets  # noqa: E402
from test_graph_builders import permute_state_dict, randomise  # noqa: E402

REL_TOL = 1e-5


def resnet():
    return randomise(nets.ResNet([3, 3, 3], [16, 32, 64], 16), seed=1), mudsc.Graph.resnet()


def vit():
    torch.manual_seed(2)
    net = nets.ViT(dim=12, depth=1, heads=3, mlp_dim=24).eval()
    return net, mudsc.Graph.vit(12, 1, 3, 24)


FAMILIES = {"resnet20": resnet, "vit": vit}


def images(seed, n=6, size=8, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, size, size, generator=g, dtype=dtype)


def batches_for(net, count=3, n=6):
    dtype = next(net.parameters()).dtype
    return [(images(10 + b, n, dtype=dtype), torch.zeros(n)) for b in range(count)]


def permuted_copy(net, graph, seed):
    other = copy.deepcopy(net)
    sd = permute_state_dict(net.state_dict(), graph, np.random.default_rng(seed))
    other.load_state_dict(sd)
    return other


def assert_same_function(a, b, x):
    with torch.no_grad():
        ya, yb = a.eval()(x), b.eval()(x)
    scale = ya.abs().max().item()
    assert (ya - yb).abs().max().item() <= REL_TOL * scale


# ---- state_dict <-> Model ----------------------------------------------------

@pytest.mark.parametrize("family", FAMILIES)
def test_state_dict_round_trip_without_copy(family):
    net, _ = FAMILIES[family]()
    sd = net.state_dict()
    m = mt.model_from_state_dict(sd)
    assert m.names() == list(sd)
    for name, t in sd.items():
        if t.numel():
            assert m.info(name).data == t.data_ptr()  # the library holds the tensor's memory
    back = mt.state_dict_from_model(m)
    for name, t in sd.items():
        assert back[name].dtype == t.dtype and back[name].shape == t.shape
        assert back[name].data_ptr() == t.data_ptr()  # and gives it back without a copy
        assert torch.equal(back[name], t)
    other = copy.deepcopy(net)
    for p in other.parameters():
        p.data.zero_()
    other.load_state_dict(back)
    assert_same_function(net, other, images(0, dtype=next(net.parameters()).dtype))
    copied = mt.state_dict_from_model(m, copy=True)
    assert all(copied[k].data_ptr() != sd[k].data_ptr() for k in sd if sd[k].numel())


def test_bfloat16_and_file_round_trip(tmp_path):
    net, _ = vit()
    half = copy.deepcopy(net).to(torch.bfloat16)
    sd = half.state_dict()
    m = mt.model_from_state_dict(sd)
    assert m.info("head.weight").dtype == "BF16"
    assert m.info("head.weight").data == sd["head.weight"].data_ptr()
    back = mt.state_dict_from_model(m)
    assert back["head.weight"].dtype == torch.bfloat16
    assert all(torch.equal(back[k], sd[k]) for k in sd)
    m.save(tmp_path / "vit.safetensors")
    loaded = mt.state_dict_from_model(mudsc.Model.load(tmp_path / "vit.safetensors"))
    assert all(torch.equal(loaded[k], sd[k]) for k in sd)
    strided = {"t": torch.arange(12.0).reshape(3, 4).t()}  # not contiguous: copied once
    assert torch.equal(mt.state_dict_from_model(mt.model_from_state_dict(strided))["t"],
                       strided["t"])
    with pytest.raises(mudsc.UnsupportedError):
        mt.model_from_state_dict({"c": torch.zeros(2, dtype=torch.complex64)})


# ---- collect_activations ------------------------------------------------------

def hand_features(nets_, graph, batches):
    """Point name -> per net the hooked features of every batch as (obs, C)
    float64 rows, hooked independently of the binding (site rule of
    docs/graph-format.md)."""
    feats = {p.name: [[] for _ in nets_] for p in graph.points}
    handles = []
    for i, net in enumerate(nets_):
        modules = dict(net.named_modules())
        for p in graph.points:
            name, is_input = mudsc.graph.site_module(p.site)

            def hook(mod, inp, out, p=p, i=i, is_input=is_input):
                t = (inp[0] if is_input else out).detach().double()
                feats[p.name][i].append(t.movedim(p.site_axis, -1).reshape(-1, p.width).numpy())
            handles.append(modules[name].register_forward_hook(hook))
    with torch.no_grad():
        for x, _ in batches:
            for net in nets_:
                net.eval()(x)
    for h in handles:
        h.remove()
    return {k: [np.concatenate(f) for f in v] for k, v in feats.items()}


def correlation_by_hand(xs):
    Z = np.concatenate(xs, axis=1)
    cov = np.cov(Z.T, ddof=0)
    s = np.sqrt(np.diag(cov))
    return cov / np.maximum(np.outer(s, s), 1e-7)


@pytest.mark.parametrize("family", FAMILIES)
def test_collect_activations_equals_hand_statistics(family):
    net, graph = FAMILIES[family]()
    other = permuted_copy(net, graph, seed=5)
    for p in other.parameters():  # a different network, not only a permutation
        p.data.add_(0.1 * torch.randn_like(p))
    batches = batches_for(net)
    accs = mt.collect_activations([net, other], graph, batches)
    hand = hand_features([net, other], graph, batches)
    assert list(accs) == graph.point_names
    for name, acc in accs.items():
        assert acc.count() == hand[name][0].shape[0]
        np.testing.assert_allclose(acc.correlation(), correlation_by_hand(hand[name]),
                                   atol=1e-6, err_msg=name)
    limited = mt.collect_activations([net, other], graph, (x for x, _ in batches), max_batches=1)
    assert limited[graph.point_names[0]].count() * 3 == accs[graph.point_names[0]].count()
    assert not any(m._forward_hooks for m in net.modules())


def test_vit_attention_site_is_the_projection_input():
    net, graph = vit()
    seen = {}
    net.blocks[0].attn.proj.register_forward_hook(
        lambda mod, inp, out: seen.update(inp=inp[0].detach().clone()))
    x = images(3, dtype=torch.float32)
    accs = mt.collect_activations([net, net], graph, [x])
    rows = seen["inp"].reshape(-1, 12).double().numpy()
    np.testing.assert_allclose(accs["blocks.0.attn"].means()[:12], rows.mean(axis=0), atol=1e-6)


def test_collect_activations_errors():
    net, graph = vit()
    g = mudsc.Graph()
    g.add_point("p", 12)
    with pytest.raises(mudsc.InvalidArgumentError, match="no site"):
        mt.collect_activations([net, net], g, [images(0, dtype=torch.float32)])
    g.set_site("p", "blocks.7.norm1", -1)
    with pytest.raises(mudsc.NotFoundError, match="blocks.7.norm1"):
        mt.collect_activations([net, net], g, [images(0, dtype=torch.float32)])
    assert not any(m._forward_hooks for m in net.modules())


# ---- merging ----------------------------------------------------------------------

@pytest.mark.parametrize("method", ["align", "zip"])
@pytest.mark.parametrize("family", FAMILIES)
def test_merging_a_permuted_copy_gives_the_network(family, method):
    net, graph = FAMILIES[family]()
    other = permuted_copy(net, graph, seed=7)
    x = images(99, dtype=next(net.parameters()).dtype)
    changed = [k for k, v in net.state_dict().items() if not torch.equal(v, other.state_dict()[k])]
    assert len(changed) > len(net.state_dict()) // 2  # the copy's units really moved
    assert_same_function(net, other, x)  # the permutation keeps the function
    before = {k: v.clone() for k, v in net.state_dict().items()}
    merged, result = mt.merge([net, other], graph, batches=batches_for(net), method=method,
                              alpha=0.5)
    assert isinstance(merged, type(net)) and merged is not net
    assert isinstance(result, mudsc.MergeResult) and result.points == graph.point_names
    assert_same_function(net, merged, x)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    if method == "align":
        pts = graph.points
        sd = net.state_dict()
        # the merged tensors are the network's own, to float64 rounding
        for name in result.tensors:
            np.testing.assert_allclose(result.tensors[name], sd[name].numpy(), rtol=1e-9,
                                       atol=1e-9, err_msg=name)
        assert len(result.permutations[pts[0].name]) == 2


def test_weight_matching_merge_without_batches():
    net, graph = resnet()
    other = permuted_copy(net, graph, seed=8)
    merged, result = mt.merge([net, other], graph)
    assert result.best_sweep >= 0 and result.sweeps >= 1
    assert_same_function(net, merged, images(1))


def test_merge_with_collected_activations_equals_merge_with_batches():
    net, graph = resnet()
    other = permuted_copy(net, graph, seed=10)
    other_b = permuted_copy(net, graph, seed=11)
    nets = [other, other_b]
    calib = batches_for(net, count=2)
    acts = mt.collect_activations(nets, graph, calib)
    _, from_batches = mt.merge(nets, graph, batches=calib, method="zip", alpha=0.3)
    _, from_acts = mt.merge(nets, graph, activations=acts, method="zip", alpha=0.3)
    assert from_acts.sweeps == from_batches.sweeps
    for name, value in from_batches.tensors.items():
        np.testing.assert_array_equal(from_acts.tensors[name], value, err_msg=name)
    with pytest.raises(mudsc.InvalidArgumentError, match="not both"):
        mt.merge(nets, graph, batches=calib, activations=acts)


# ---- BatchNorm re-estimation ------------------------------------------------------

def test_reset_bn_stats_equals_batch_statistics_by_hand():
    net, _ = resnet()
    bns = {n: m for n, m in net.named_modules() if isinstance(m, torch.nn.BatchNorm2d)}
    stats = {n: [] for n in bns}
    handles = [m.register_forward_pre_hook(
        lambda mod, inp, n=n: stats[n].append(
            (inp[0].mean(dim=(0, 2, 3)), inp[0].var(dim=(0, 2, 3), unbiased=True))))
        for n, m in bns.items()]
    net.eval()
    net.layer1[0].train()  # a module in train mode stays so
    momenta = {n: m.momentum for n, m in bns.items()}
    batches = batches_for(net, count=4)
    mt.reset_bn_stats(net, batches)
    for h in handles:
        h.remove()
    for n, m in bns.items():
        assert len(stats[n]) == 4
        mean = torch.stack([s[0] for s in stats[n]]).mean(0)
        var = torch.stack([s[1] for s in stats[n]]).mean(0)
        torch.testing.assert_close(m.running_mean, mean, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(m.running_var, var, rtol=1e-10, atol=1e-12)
        assert m.num_batches_tracked.item() == 4 and m.momentum == momenta[n]
    assert not net.training and net.layer1[0].training and not net.layer2[0].training


def test_reset_bn_stats_max_batches_and_no_batches():
    net, _ = resnet()
    mt.reset_bn_stats(net, batches_for(net, count=4), max_batches=2)
    assert net.bn1.num_batches_tracked.item() == 2
    before = net.bn1.running_mean.clone()
    with pytest.raises(mudsc.InvalidArgumentError, match="no batches"):
        mt.reset_bn_stats(net, [])
    assert torch.equal(net.bn1.running_mean, before)  # restored


def test_merge_with_reset_bn():
    net, graph = resnet()
    other = permuted_copy(net, graph, seed=9)
    calib = batches_for(net, count=2)
    merged, _ = mt.merge([net, other], graph, batches=calib, reset_bn=calib)
    expect = copy.deepcopy(net)
    mt.reset_bn_stats(expect, calib)
    torch.testing.assert_close(merged.bn1.running_var, expect.bn1.running_var, rtol=1e-6,
                               atol=1e-9)


# ---- statistics sets (issue 12) ----------------------------------------------------

def test_collect_activations_returns_a_stats_that_shards_merge_into(tmp_path):
    net, graph = resnet()
    other = permuted_copy(net, graph, seed=12)
    nets = [net, other]
    calib = batches_for(net, count=4)
    whole = mt.collect_activations(nets, graph, calib)
    assert isinstance(whole, mudsc.Stats) and whole.point_names == graph.point_names
    # two "processes": shards of the calibration data, saved, loaded, merged
    for k, part in enumerate((calib[:1], calib[1:])):
        mt.collect_activations(nets, graph, part).save(tmp_path / f"shard{k}.stats")
    merged = mudsc.Stats.load(tmp_path / "shard1.stats", graph)
    merged.merge(mudsc.Stats.load(tmp_path / "shard0.stats", graph))
    for p in graph.point_names:
        a, b = whole.point(p).correlation(), merged.point(p).correlation()
        assert np.max(np.abs(a - b) / np.maximum(np.abs(a), 1e-3)) < 1e-12, p
    _, by_whole = mt.merge(nets, graph, activations=whole, method="align")
    _, by_shards = mt.merge(nets, graph, activations=merged, method="align")
    for name, value in by_whole.tensors.items():
        np.testing.assert_allclose(by_shards.tensors[name], value, rtol=0, atol=1e-12)
    # no batch: a set without observations, and merge() matches weights only
    empty = mt.collect_activations(nets, graph, [])
    assert empty.point(0).count() == 0
    _, weights_only = mt.merge(nets, graph, batches=[], method="align")
    assert weights_only.sweeps >= 1


def test_collect_activations_cross_mode_equals_the_full_sets_cross_blocks():
    """mode="cross" (issue 13): every point's cross blocks equal those of the
    full set to the float accumulator's bound (algorithm.md section 20)."""
    net, graph = FAMILIES["resnet20"]()
    other = permuted_copy(net, graph, seed=6)
    batches = batches_for(net)
    full = mt.collect_activations([net, other], graph, batches)
    cross = mt.collect_activations([net, other], graph, batches, mode="cross")
    for name in graph.point_names:
        assert cross[name].mode == "cross"
        np.testing.assert_allclose(cross[name].cross_correlation(),
                                   full[name].cross_correlation(), atol=4e-6, err_msg=name)
