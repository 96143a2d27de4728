"""Partial zipping (mudsc_graph_prefix, mudsc_partial_merge; partial.h)
against tests/oracle/partial_ref.py (docs/algorithm.md section 19): the trunk
and head tensors to 1e-12 for align and zip, N = 2 and 3, at every depth; a
network partially merged with a permuted copy of itself gives back its
function through every head; the prefix graph; mudsc.torch.partial_zip's
multi-head module and its parameter count."""
import json

import numpy as np
import pytest

import mudsc
import mudsc_ref as ref
import partial_ref as pref
import toy_nets
from test_matcher_parity import MLP_WIDTHS, mlp_activations

WIDTHS = [10, 24, 16, 12, 6]
DOC = toy_nets.mlp_graph(WIDTHS)
X = np.random.default_rng(4).standard_normal((40, WIDTHS[0]))


def acts_for(models):
    h = [toy_nets.mlp_forward(m, X)[1] for m in models]
    return {f"fc{k + 1}": ref.activation_similarity([x[k] for x in h])
            for k in range(len(WIDTHS) - 2)}


@pytest.mark.parametrize("method", ["align", "zip"])
@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_partial_merge_equals_the_oracle(method, n, depth):
    models = [toy_nets.random_mlp(WIDTHS, 30 + 7 * n + i) for i in range(n)]
    acts = acts_for(models)
    sub = pref.prefix_doc(DOC, depth)
    trunk = mudsc.Graph.from_json(json.dumps(DOC)).prefix(depth)
    assert trunk.point_names == [p["name"] for p in sub["points"]]
    m = mudsc.Matcher(trunk, models, method=method, alpha=0.5)
    for name in trunk.point_names:
        m.set_activation_similarity(name, acts[name])
    m.run()
    weights = None if n == 2 else [0.5, 0.25, 0.25]
    got = mudsc.partial_merge(m, weights=weights).to_numpy()
    expect_corr = ref.mudsc(ref.load_graph(sub), models,
                            activations={k: acts[k] for k in trunk.point_names},
                            method=method, alpha=0.5).corr
    want = pref.partial_merge(sub, models, expect_corr, weights)
    assert list(got) == list(want)
    for k, v in want.items():
        np.testing.assert_allclose(got[k], v, rtol=1e-12, atol=1e-12, err_msg=k)
    # each head is a whole network of the source architecture
    for i in range(n):
        net = {k: got[v] for k, v in mudsc.partial.head_names(mudsc.partial_merge(m), i).items()}
        assert set(net) == set(models[0])
        toy_nets.mlp_forward(net, X)


def test_a_permuted_copy_comes_back_through_every_head():
    base = toy_nets.random_mlp(WIDTHS, 5)
    rng = np.random.default_rng(6)
    perms = {k: rng.permutation(WIDTHS[k]) for k in range(1, len(WIDTHS) - 1)}
    models = [base, toy_nets.permute_mlp(base, perms)]
    want = toy_nets.mlp_forward(base, X)[0]
    for depth in (1, 2):
        trunk = mudsc.Graph.from_json(json.dumps(DOC)).prefix(depth)
        # activation matching (alpha 0, as ZipIt!): the weight similarity of the
        # last trunk point sees the head's first layer, whose other axis is
        # not aligned (docs/algorithm.md section 19)
        m = mudsc.Matcher(trunk, models, alpha=0.0)
        acts = acts_for(models)
        for name in trunk.point_names:  # the models' statistics match exactly
            m.set_activation_similarity(name, acts[name])
        m.run()
        merged = mudsc.partial_merge(m)
        for i in range(2):
            net = {k: merged[v] for k, v in mudsc.partial.head_names(merged, i).items()}
            np.testing.assert_allclose(toy_nets.mlp_forward(net, X)[0], want, rtol=1e-10,
                                       atol=1e-12)


def test_prefix_errors_and_splits():
    g = mudsc.Graph.from_json(json.dumps(DOC))
    with pytest.raises(mudsc.RangeError, match="depth = 0 outside 1..3"):
        g.prefix(0)
    with pytest.raises(mudsc.RangeError, match="depth = 4"):
        g.prefix(4)
    vit = mudsc.Graph.vit(8, 2, 2, 16)
    p = vit.prefix(2)  # residual and blocks.0.attn: the qkv split comes along
    assert p.point_names == ["residual", "blocks.0.attn"]
    assert [s.tensor for s in p.splits] == ["blocks.0.attn.qkv.weight", "blocks.0.attn.qkv.bias"]
    assert p.point("blocks.0.attn").site == "blocks.0.attn.proj:input"
    assert len(vit.prefix(1).splits) == 0


def test_torch_partial_zip_shares_the_trunk():
    import torch
    import mudsc.torch as mt
    from test_alpha_search import torch_mlp_pair
    nets, g, batches, _ = torch_mlp_pair()
    multi, model = mt.partial_zip(nets, g, 1, batches=batches, method="zip")
    outs = multi(batches[0])
    assert len(outs) == 2 and outs[0].shape == (32, 3)
    # the trunk (layer 0) is one module, the heads are each net's own
    assert multi.nets[0][0] is multi.nets[1][0] and multi.nets[0][2] is not multi.nets[1][2]
    full = sum(p.numel() for p in nets[0].parameters())
    trunk = 6 * 16 + 16
    assert mt.parameter_count(multi) == trunk + 2 * (full - trunk)
    # head i computes trunk + model i's head, from the partially merged tensors
    sd = mt.state_dict_from_model(model)
    with torch.no_grad():
        h = torch.relu(batches[0] @ sd["0.weight"].T + sd["0.bias"])
        h = torch.relu(h @ sd["heads.1.2.weight"].T + sd["heads.1.2.bias"])
        want = h @ sd["heads.1.4.weight"].T + sd["heads.1.4.bias"]
    torch.testing.assert_close(outs[1], want)
