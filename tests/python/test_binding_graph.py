"""mudsc.Graph: building by calls, the accessors (Point, Binding, Split), the
builders with their options, JSON round trips (text and file), validation
against models, unbound tensors, and the error paths."""
import json

import numpy as np
import pytest

import mudsc


def hand_graph():
    g = mudsc.Graph()
    g.add_split("attn.qkv.weight", 0, ["q", "k", "v"])
    assert g.add_point("fc1", 4) == 0
    assert g.add_point("attn", 6, groups=3) == 1
    g.set_site("fc1", "fc1.act", -1)
    g.set_site(1, "attn.proj:input", -1)
    g.bind("fc1", "fc1.weight", 0)
    g.bind(0, "bn1.running_mean", 0, ignore=True)
    g.bind("fc1", "fc2.weight", 1, role="in")
    g.bind("attn", "attn.qkv.weight", 0, part="k")
    return g


def test_calls_and_accessors():
    g = hand_graph()
    assert len(g) == 2 and g.point_names == ["fc1", "attn"]
    fc1, attn = g.points
    assert fc1 == mudsc.Point("fc1", 4, 1, "fc1.act", -1, [
        mudsc.Binding("fc1.weight", None, 0, "out", False),
        mudsc.Binding("bn1.running_mean", None, 0, "out", True),
        mudsc.Binding("fc2.weight", None, 1, "in", False)])
    assert attn.groups == 3 and attn.site == "attn.proj:input"
    assert attn.bindings == [mudsc.Binding("attn.qkv.weight", "k", 0, "out", False)]
    assert g.splits == [mudsc.Split("attn.qkv.weight", 0, ["q", "k", "v"])]
    assert g.point("attn") == attn and g.index("attn") == 1
    assert mudsc.Graph().points == [] and "0 points" in repr(mudsc.Graph())


def test_json_round_trip_text_and_file(tmp_path):
    g = hand_graph()
    text = g.to_json()
    doc = json.loads(text)
    assert doc["points"][1]["site"] == {"name": "attn.proj:input", "axis": -1}
    again = mudsc.Graph.from_json(text)
    assert again.to_json() == text and again.points == g.points
    assert mudsc.Graph.from_json(text.encode()).to_json() == text
    g.save(tmp_path / "g.json")
    assert (tmp_path / "g.json").read_text() == text
    assert mudsc.Graph.load(tmp_path / "g.json").points == g.points


def test_mlp_builder_options():
    g = mudsc.Graph.mlp([8, 4], bias=False, prefix="net.", layer_template="{i}", index_step=2)
    assert g.point_names == ["net.0", "net.2"]
    p = g.point("net.2")
    assert (p.width, p.site, p.site_axis) == (4, "net.2", -1)
    assert [b.tensor for b in p.bindings] == ["net.2.weight", "net.4.weight"]
    default = mudsc.Graph.mlp([3])
    assert [b.tensor for b in default.points[0].bindings] == [
        "layers.0.weight", "layers.0.bias", "layers.1.weight"]


def test_resnet_builder_options():
    g = mudsc.Graph.resnet()  # ResNet-20, BatchNorm
    assert "layer3" in g.point_names and g.point("layer1").site == "layer1.2"
    tensors = {b.tensor for p in g.points for b in p.bindings}
    assert "linear.weight" in tensors and "layer2.0.shortcut.0.weight" in tensors
    r18 = mudsc.Graph.resnet("resnet18", norm="group", norm_groups=4, head="")
    tensors = {b.tensor for p in r18.points for b in p.bindings}
    assert "layer2.0.downsample.0.weight" in tensors
    assert not any(t.startswith("fc") for t in tensors)
    assert {p.groups for p in r18.points} == {4}
    wide = mudsc.Graph.resnet("resnet20", width_multiplier=2, prefix="m.", shortcut_conv="sc.0",
                              shortcut_norm="sc.1", head="cls")
    assert wide.point("m.layer1").width == 32
    tensors = {b.tensor for p in wide.points for b in p.bindings}
    assert "m.layer2.0.sc.0.weight" in tensors and "m.cls.weight" in tensors
    small = mudsc.Graph.resnet(None, blocks=[1, 1], widths=[8, 16], stem_width=8,
                               bottleneck=False)
    assert small.point("layer2").width == 16 and "layer3" not in small.point_names
    with pytest.raises(mudsc.InvalidArgumentError):
        mudsc.Graph.resnet(norm="layer")
    with pytest.raises(mudsc.InvalidArgumentError):
        mudsc.Graph.resnet(blocks=[1] * 5)
    with pytest.raises(mudsc.InvalidArgumentError):
        mudsc.Graph.resnet("resnet20", width_multiplier=0)
    with pytest.raises(mudsc.InvalidArgumentError, match="give a preset"):
        mudsc.Graph.resnet(width_multiplier=2)


def test_vit_builder_sites_and_flags():
    g = mudsc.Graph.vit(12, 2, 3, 24)
    assert g.point_names == ["residual", "blocks.0.attn", "blocks.0.mlp", "blocks.1.attn",
                             "blocks.1.mlp"]
    attn = g.point("blocks.1.attn")
    assert (attn.site, attn.site_axis, attn.groups) == ("blocks.1.attn.proj:input", -1, 3)
    assert g.point("blocks.0.mlp").site == "blocks.0.mlp.act"
    assert mudsc.graph.site_module(attn.site) == ("blocks.1.attn.proj", True)
    assert mudsc.graph.site_module("norm") == ("norm", False)
    bare = mudsc.Graph.vit(12, 1, 3, 24, qkv_bias=False, patch_embed=False, cls_token=False,
                           pos_embed=False, final_norm=False, head=False, prefix="enc.",
                           block_template="layers.{i}")
    tensors = {b.tensor for p in bare.points for b in p.bindings}
    assert "enc.layers.0.attn.qkv.weight" in tensors
    assert not {"enc.cls_token", "enc.head.weight", "enc.layers.0.attn.qkv.bias"} & tensors
    assert len(bare.splits) == 1
    with pytest.raises(mudsc.InvalidArgumentError, match="heads"):
        mudsc.Graph.vit(10, 1, 3, 24)


def mlp_model(hidden=4, dtype=np.float64):
    return {"layers.0.weight": np.zeros((hidden, 3), dtype),
            "layers.0.bias": np.zeros(hidden, dtype),
            "layers.1.weight": np.zeros((2, hidden), dtype), "layers.1.bias": np.zeros(2, dtype),
            "extra": np.zeros(1, dtype)}


def test_validate_and_unbound():
    g = mudsc.Graph.mlp([4])
    g.validate([mlp_model(), mudsc.Model.from_numpy(mlp_model())])
    assert g.unbound(mlp_model()) == ["layers.1.bias", "extra"]
    with pytest.raises(mudsc.ShapeError, match="layers.0"):
        g.validate([mlp_model(), mlp_model(hidden=5)])
    bad = mlp_model()
    del bad["layers.1.weight"]
    with pytest.raises(mudsc.NotFoundError, match="layers.1.weight"):
        g.validate([bad])


def test_error_paths():
    g = hand_graph()
    with pytest.raises(mudsc.ExistsError):
        g.add_point("fc1", 4)
    with pytest.raises(mudsc.ShapeError):
        g.add_point("odd", 5, groups=2)
    with pytest.raises(mudsc.NotFoundError):
        g.index("nope")
    with pytest.raises(mudsc.RangeError):
        g.set_site(7, "x", 0)
    with pytest.raises(mudsc.InvalidArgumentError, match="role"):
        g.bind(0, "t", 0, role="sideways")
    with pytest.raises(mudsc.ExistsError):
        g.add_split("attn.qkv.weight", 0, ["a", "b"])
    with pytest.raises(mudsc.NotFoundError):
        g.bind("attn", "attn.qkv.weight", 0, part="z")
    with pytest.raises(mudsc.ParseError, match="line"):
        mudsc.Graph.from_json('{"format": ')
    doc = json.loads(g.to_json())
    doc["points"][0]["width"] = 0
    with pytest.raises(mudsc.ShapeError, match=r"points\[0\]"):
        mudsc.Graph.from_json(json.dumps(doc))
    with pytest.raises(mudsc.MudscIOError):
        mudsc.Graph.load("/nonexistent/graph.json")
    g.close()
    with pytest.raises(mudsc.StateError):
        len(g)


def test_concat_repeat_and_permuted_copy():
    # point P (4 units) feeds f flattened (3 entries a unit) and part 0 of c's
    # concatenated axis; Q (2 units) feeds part 1
    g = mudsc.Graph()
    g.add_point("P", 4)
    g.add_point("Q", 2)
    g.add_concat("c", 1, ["p", "q"], [4, 2])
    g.bind("P", "a", 0)
    g.bind("P", "f", 1, "in", repeat=3)
    g.bind("P", "c", 1, "in", part="p")
    g.bind("Q", "d", 0)
    g.bind("Q", "c", 1, "in", part="q")
    assert g.splits == [mudsc.Split("c", 1, ["p", "q"], [4, 2])]
    assert g.point("P").bindings[1] == mudsc.Binding("f", None, 1, "in", False, 3)
    rng = np.random.default_rng(0)
    m = {"a": rng.normal(size=(4, 3)), "d": rng.normal(size=(2, 3)),
         "f": rng.normal(size=(2, 12)), "c": rng.normal(size=(5, 6))}
    out = g.permute_model(m, seed=9)
    p, q = g.permutation("P", seed=9), g.permutation("Q", seed=9)
    assert sorted(p) == [0, 1, 2, 3] and sorted(q) == [0, 1]
    np.testing.assert_array_equal(out["a"], m["a"][p])
    np.testing.assert_array_equal(out["d"], m["d"][q])
    np.testing.assert_array_equal(out["f"], m["f"].reshape(2, 4, 3)[:, p].reshape(2, 12))
    np.testing.assert_array_equal(out["c"], m["c"][:, np.concatenate([p, 4 + q])])
    only = g.permute_model(m, seed=9, point="Q")
    np.testing.assert_array_equal(only["a"], m["a"])
    with pytest.raises(mudsc.errors.ShapeError):
        g.bind("P", "e", 0, repeat=0)
    with pytest.raises(mudsc.errors.InvalidArgumentError):
        g.add_concat("e", 0, ["x", "y"], [1])
    back = mudsc.Graph.from_json(g.to_json())
    assert back.splits == g.splits and back.points == g.points
