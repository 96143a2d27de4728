"""The ready graph builders are right: permuting a real PyTorch network's
units by random permutations per merge point, following only the graph the
builder made (read through the C accessors), leaves the network's outputs
unchanged.  A graph missing one consumer binding of a residual stream makes
the same check fail, so the check has teeth."""
import copy
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import nets  # noqa: E402
from mudsc import Graph, Model, MudscError  # noqa: E402

REL_TOL = 1e-5


def randomise(net, seed):
    """Every float parameter and buffer random (running_var positive), in float64."""
    g = torch.Generator().manual_seed(seed)
    net.double().eval()
    with torch.no_grad():
        for name, t in net.state_dict().items():
            if not t.is_floating_point():
                continue
            r = torch.randn(t.shape, generator=g, dtype=t.dtype)
            if name.endswith("running_var"):
                r = r.abs() + 0.5
            elif name.endswith("weight") and t.ndim == 1:  # norm scales away from 0
                r = r + 1.0
            t.copy_(r * (0.5 if t.ndim > 1 else 1.0))
    return net


def group_perm(rng, width, groups):
    """A random permutation of width units mapping block to block."""
    cg = width // groups
    return np.concatenate([b * cg + rng.permutation(cg) for b in rng.permutation(groups)])


def split_map(graph):
    """{tensor: (axis, [part names])} of a mudsc.Graph's splits."""
    return {s.tensor: (s.axis, s.parts) for s in graph.splits}


def site(point):
    """(site name, feature axis) of a mudsc.Point."""
    return point.site, point.site_axis


def permute_state_dict(sd, graph, rng):
    """New state_dict with each point's units reordered by a random
    group-respecting permutation, following only the graph's points,
    bindings and splits (read through the C accessors)."""
    splits = split_map(graph)
    ops = {}
    for pt in graph.points:
        perm = torch.as_tensor(group_perm(rng, pt.width, pt.groups))
        for b in pt.bindings:
            ops.setdefault(b.tensor, []).append((b.part, b.axis, perm))
    out = {k: v.clone() for k, v in sd.items()}
    for name, todo in ops.items():
        t = out[name]
        for part, axis, perm in todo:  # whole-tensor axes (apply to every part)
            if part is None:
                t = t.index_select(axis, perm)
        if name in splits:
            axis, parts = splits[name]
            chunks = list(t.chunk(len(parts), dim=axis))
            for part, ax, perm in todo:
                if part is not None:
                    k = parts.index(part)
                    chunks[k] = chunks[k].index_select(ax, perm)
            t = torch.cat(chunks, dim=axis)
        out[name] = t
    return out


def rel_change(net, sd, x):
    with torch.no_grad():
        y0 = net(x)
        other = copy.deepcopy(net)
        other.load_state_dict(sd)
        y1 = other(x)
    return float((y1 - y0).abs().max() / y0.abs().max())


def model_of(net):
    return Model.from_numpy({k: v.detach().cpu().numpy() for k, v in net.state_dict().items()},
                            copy=True)


def check_builder(net, graph, x, unbound, trials=3):
    """Validation passes, the unbound tensors are as expected, and random
    permutations by the graph preserve the function."""
    with model_of(net) as m:
        graph.validate([m, m])
        assert graph.unbound(m) == unbound
    rng = np.random.default_rng(0)
    sd = net.state_dict()
    for _ in range(trials):
        assert rel_change(net, permute_state_dict(sd, graph, rng), x) < REL_TOL
    # the permutations were not all trivial: the weights did move
    moved = permute_state_dict(sd, graph, rng)
    assert any(not torch.equal(moved[k], sd[k]) for k in sd)


def images(n=3, size=32, seed=1):
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed),
                       dtype=torch.float64)


@pytest.mark.parametrize("bias", [True, False])
def test_mlp(bias):
    net = randomise(nets.MLP([6, 16, 12, 9, 4], bias=bias), 1)
    g = Graph.mlp([16, 12, 9], bias=bias)
    x = torch.randn(5, 6, dtype=torch.float64)
    check_builder(net, g, x, ["layers.3.bias"] if bias else [])


def test_resnet20_batchnorm():
    net = randomise(nets.ResNet([3, 3, 3], [16, 32, 64], 16), 2)
    g = Graph.resnet("resnet20")
    unbound = [k for k in net.state_dict() if k.endswith("num_batches_tracked")] + ["linear.bias"]
    check_builder(net, g, images(), unbound)
    names = g.point_names
    assert names[:3] == ["layer1", "layer1.0.conv1", "layer1.1.conv1"]
    assert "layer2" in names and "layer3" in names
    stream = g.points[0]
    assert site(stream) == ("layer1.2", 1)
    ignored = [b.tensor for b in stream.bindings if b.ignore]
    assert "bn1.running_mean" in ignored and "layer1.0.bn2.running_var" in ignored


def test_resnet20_width_multiplier_groupnorm():
    net = randomise(nets.ResNet([3, 3, 3], [32, 64, 128], 32, norm="gn", groups=4), 3)
    g = Graph.resnet("resnet20", width_multiplier=2, norm="group", norm_groups=4)
    assert all(p.groups == 4 for p in g.points)
    check_builder(net, g, images(), ["linear.bias"])
    # the groups matter: the same points without groups do not preserve the function
    doc = json.loads(g.to_json())
    for p in doc["points"]:
        p["groups"] = 1
    ungrouped = Graph.from_json(json.dumps(doc))
    rng = np.random.default_rng(3)
    assert rel_change(net, permute_state_dict(net.state_dict(), ungrouped, rng), images()) > 1e-3


def test_resnet50_bottleneck_small():
    net = randomise(nets.ResNet([3, 4, 6, 3], [4, 8, 16, 32], 8, bottleneck=True,
                                imagenet=True), 4)
    g = Graph.resnet("resnet50", blocks=[3, 4, 6, 3], widths=[4, 8, 16, 32], stem_width=8)
    unbound = [k for k in net.state_dict() if k.endswith("num_batches_tracked")] + ["fc.bias"]
    check_builder(net, g, images(2, 64), unbound)
    names = g.point_names
    assert names[0] == "stem"  # layer1.0 has a downsample: the stem is its own point
    assert "layer1.0.conv2" in names


def test_resnet18_basic_imagenet_style():
    net = randomise(nets.ResNet([2, 2, 2, 2], [8, 16, 32, 64], 8, imagenet=True), 5)
    g = Graph.resnet("resnet18", blocks=[2, 2, 2, 2], widths=[8, 16, 32, 64], stem_width=8)
    unbound = [k for k in net.state_dict() if k.endswith("num_batches_tracked")] + ["fc.bias"]
    check_builder(net, g, images(2, 64), unbound)


def test_vit_two_blocks_three_heads():
    net = randomise(nets.ViT(dim=12, depth=2, heads=3, mlp_dim=24), 6)
    g = Graph.vit(dim=12, depth=2, heads=3, mlp_dim=24)
    check_builder(net, g, images(4, 8), ["head.bias"])
    pts = {p.name: p for p in g.points}
    assert pts["blocks.1.attn"].groups == 3
    assert site(pts["residual"]) == ("norm", -1)
    assert site(pts["blocks.1.attn"]) == ("blocks.1.attn.proj:input", -1)
    assert site(pts["blocks.1.mlp"]) == ("blocks.1.mlp.act", -1)
    assert split_map(g)["blocks.0.attn.qkv.weight"] == (0, ["q", "k", "v"])


def test_vit_independent_q_k_points_would_be_wrong():
    """Why q, k and v share one point: giving v its own grouped point lets
    the heads of v move independently of those of q and k, which changes
    the function (the doc of mudsc_vit_options explains the choice)."""
    net = randomise(nets.ViT(dim=12, depth=1, heads=3, mlp_dim=24), 7)
    g = Graph.vit(dim=12, depth=1, heads=3, mlp_dim=24)
    doc = json.loads(g.to_json())
    attn = next(p for p in doc["points"] if p["name"] == "blocks.0.attn")
    v_side = [b for b in attn["bindings"] if b.get("part") == "v" or b["role"] == "in"]
    attn["bindings"] = [b for b in attn["bindings"] if b not in v_side]
    doc["points"].append({"name": "blocks.0.attn.v", "width": 12, "groups": 3,
                          "bindings": v_side})
    split = Graph.from_json(json.dumps(doc))
    rng = np.random.default_rng(1)
    worst = max(rel_change(net, permute_state_dict(net.state_dict(), split, rng), images(4, 8))
                for _ in range(5))
    assert worst > 1e-3


def test_missing_residual_consumer_breaks_function_preservation():
    """Drop one consumer (IN) binding from a residual-stream point: the
    graph still validates, but permuting by it changes the outputs."""
    net = randomise(nets.ResNet([3, 3, 3], [16, 32, 64], 16), 8)
    g = Graph.resnet("resnet20")
    doc = json.loads(g.to_json())
    stream = next(p for p in doc["points"] if p["name"] == "layer2")
    before = len(stream["bindings"])
    stream["bindings"] = [b for b in stream["bindings"]
                          if not (b["tensor"] == "layer2.1.conv1.weight" and b["role"] == "in")]
    assert len(stream["bindings"]) == before - 1
    broken = Graph.from_json(json.dumps(doc))
    with model_of(net) as m:
        broken.validate([m])  # shapes are all fine: only the function check sees it
    rng = np.random.default_rng(2)
    assert rel_change(net, permute_state_dict(net.state_dict(), broken, rng), images()) > 1e-3
    # and the complete graph passes on the same draw
    rng = np.random.default_rng(2)
    assert rel_change(net, permute_state_dict(net.state_dict(), g, rng), images()) < REL_TOL


def test_validation_names_the_problem():
    net = randomise(nets.ResNet([3, 3, 3], [16, 32, 64], 16), 9)
    g = Graph.resnet("resnet20", width_multiplier=2)
    with model_of(net) as m, pytest.raises(MudscError) as err:
        g.validate([m])
    assert err.value.name == "MUDSC_E_SHAPE"
    assert "'conv1.weight'" in err.value.message and "width 32" in err.value.message
    g = Graph.resnet("resnet20", shortcut_conv="proj.0", shortcut_norm="proj.1")
    with model_of(net) as m, pytest.raises(MudscError) as err:
        g.validate([m])
    assert err.value.name == "MUDSC_E_NOT_FOUND"
    assert "layer2.0.proj.0.weight" in err.value.message


def test_prefix_and_template():
    g = Graph.mlp([4], prefix="model.", layer_template="{i}", index_step=2)
    pts = g.points
    assert pts[0].name == "model.0"
    assert [b.tensor for b in pts[0].bindings] == ["model.0.weight", "model.0.bias",
                                                   "model.2.weight"]
    g = Graph.vit(dim=6, depth=1, heads=2, mlp_dim=8, prefix="enc.",
                  block_template="layers.{i}")
    tensors = {b.tensor for p in g.points for b in p.bindings}
    assert "enc.layers.0.attn.qkv.weight" in tensors and "enc.cls_token" in tensors
