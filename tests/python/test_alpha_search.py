"""Matcher.search_alpha (mudsc_matcher_search_alpha) against the oracle
tests/oracle/alpha_search_ref.py (docs/algorithm.md section 18): the same
scores, the same best alpha and the best candidate's merged tensors to
1e-10, for align and zip, N = 2 and 3; the matcher keeps the best
candidate; a raising or cancelling callback leaves the matcher as it was;
mudsc.torch.search_alpha on PyTorch MLPs."""
import json

import numpy as np
import pytest

import alpha_search_ref as aref
import mudsc
import mudsc_ref as ref
import toy_nets
from test_matcher_parity import MLP_WIDTHS, mlp_activations, related_mlps

GRAPH = toy_nets.mlp_graph(MLP_WIDTHS)
ALPHAS = [0.0, 0.2, 0.5, 0.8, 1.0]
X = np.random.default_rng(7).standard_normal((50, MLP_WIDTHS[0]))
TARGET = np.random.default_rng(8).standard_normal((50, MLP_WIDTHS[-1]))


def score_tensors(tensors, alpha):
    """A deterministic score of merged tensors: minus the squared error of
    the merged MLP's output against a fixed target."""
    out = toy_nets.mlp_forward({k: np.asarray(v, np.float64) for k, v in tensors.items()}, X)[0]
    return -float(np.mean((out - TARGET) ** 2))


def matcher(models, acts, method):
    m = mudsc.Matcher(mudsc.Graph.from_json(json.dumps(GRAPH)), models, method=method)
    for name, S in acts.items():
        m.set_activation_similarity(name, S)
    return m


@pytest.mark.parametrize("method", ["align", "zip"])
@pytest.mark.parametrize("n", [2, 3])
def test_search_equals_the_oracle(method, n):
    models = [toy_nets.random_mlp(MLP_WIDTHS, 10 * n + i) for i in range(n)]
    acts = mlp_activations(models, seed=n)
    weights = None if n == 2 else [0.2, 0.3, 0.5]
    m = matcher(models, acts, method)
    seen = []
    best, scores = m.search_alpha(
        ALPHAS, lambda model, a: seen.append(a) or score_tensors(model.to_numpy(), a),
        weights=weights)
    want_best, want_scores, want_tensors = aref.search_alpha(
        ref.load_graph(GRAPH), models, acts, ALPHAS, score_tensors, method, weights)
    assert seen == ALPHAS
    np.testing.assert_allclose(scores, want_scores, rtol=1e-10, atol=1e-12)
    assert best == want_best and len(set(np.round(scores, 9))) > 1
    got = m.merge(weights).to_numpy()
    for k, v in want_tensors.items():
        np.testing.assert_allclose(got[k], v, rtol=1e-10, atol=1e-12, err_msg=k)
    # the matcher holds the best candidate: a fresh matcher at that alpha agrees
    fresh = mudsc.Matcher(mudsc.Graph.from_json(json.dumps(GRAPH)), models, method=method,
                          alpha=best)
    for name, S in acts.items():
        fresh.set_activation_similarity(name, S)
    fresh.run()
    for name in m.graph.point_names:
        np.testing.assert_array_equal(fresh.assignment(name), m.assignment(name))


def test_errors_leave_the_matcher_as_it_was():
    models = related_mlps(2, seed=1)
    acts = mlp_activations(models, seed=1)
    m = matcher(models, acts, "align")
    m.run()
    before = {p: m.assignment(p) for p in m.graph.point_names}

    def boom(model, alpha):
        if alpha > 0.4:
            raise KeyError("stop here")
        return 1.0

    with pytest.raises(KeyError, match="stop here"):
        m.search_alpha(ALPHAS, boom)
    with pytest.raises(mudsc.NumericError, match=r"alphas\[1\] = 0.2 is nan"):
        m.search_alpha(ALPHAS, lambda model, a: float("nan") if a > 0.1 else 0.0)
    with pytest.raises(mudsc.InvalidArgumentError, match=r"alphas\[0\] = 1.5"):
        m.search_alpha([1.5], lambda model, a: 0.0)
    with pytest.raises(mudsc.InvalidArgumentError, match="n_alphas = 0"):
        m.search_alpha([], lambda model, a: 0.0)
    with pytest.raises(mudsc.InvalidArgumentError, match="need 2 weights"):
        m.search_alpha(ALPHAS, lambda model, a: 0.0, weights=[1.0])
    for p, a in before.items():
        np.testing.assert_array_equal(m.assignment(p), a)


def torch_mlp_pair():
    """Two random nn.Sequential MLPs 6-16-12-3, their graph, three
    calibration batches and the generator that made them."""
    import torch
    from torch import nn
    torch.set_num_threads(1)
    nets = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        nets.append(nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 12), nn.ReLU(),
                                  nn.Linear(12, 3)).eval())
    g = mudsc.Graph.mlp([16, 12], layer_template="{i}", index_step=2)
    gen = torch.Generator().manual_seed(3)
    return nets, g, [torch.randn(32, 6, generator=gen) for _ in range(3)], gen


def test_torch_search_alpha_on_mlps():
    import torch
    import mudsc.torch as mt
    nets, g, batches, gen = torch_mlp_pair()
    held = torch.randn(64, 6, generator=gen)
    target = (nets[0](held) + nets[1](held)).detach() / 2

    def score(net):
        with torch.no_grad():
            return -float(((net(held) - target) ** 2).mean())

    net, best, scores, matcher = mt.search_alpha(nets, g, [0.1, 0.5, 0.9], score, batches=batches,
                                                 method="zip")
    assert best == [0.1, 0.5, 0.9][int(np.argmax(scores))]
    assert score(net) == pytest.approx(max(scores), rel=1e-6)
    assert isinstance(matcher, mudsc.Matcher)
