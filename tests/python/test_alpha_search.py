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


def torch_pair_and_score():
    """The torch MLP pair, its batches and a held-out score: minus the squared
    error against the mean of the two nets' outputs."""
    import torch
    nets, g, batches, gen = torch_mlp_pair()
    held = torch.randn(64, 6, generator=gen)
    target = (nets[0](held) + nets[1](held)).detach() / 2

    def score(net):
        with torch.no_grad():
            return -float(((net(held) - target) ** 2).mean())

    return nets, g, batches, score


def test_torch_search_alpha_on_mlps():
    import mudsc.torch as mt
    nets, g, batches, score = torch_pair_and_score()
    net, best, scores, matcher = mt.search_alpha(nets, g, [0.1, 0.5, 0.9], score, batches=batches,
                                                 method="zip")
    assert best == [0.1, 0.5, 0.9][int(np.argmax(scores))]
    assert score(net) == pytest.approx(max(scores), rel=1e-6)
    assert isinstance(matcher, mudsc.Matcher)


# ---- per-point alphas (docs/algorithm.md section 24) ------------------------

@pytest.mark.parametrize("method", ["align", "zip"])
@pytest.mark.parametrize("n", [2, 3])
def test_point_search_equals_the_oracle(method, n):
    models = [toy_nets.random_mlp(MLP_WIDTHS, 10 * n + i) for i in range(n)]
    acts = mlp_activations(models, seed=n)
    weights = None if n == 2 else [0.2, 0.3, 0.5]
    m = matcher(models, acts, method)
    seen = []
    got_a, got_best = m.search_point_alphas(
        ALPHAS, lambda model, a: seen.append(score_tensors(model.to_numpy(), a)) or seen[-1],
        rounds=2, weights=weights)
    want_a, want_best, want_tensors, want_scores = aref.search_point_alphas(
        ref.load_graph(GRAPH), models, acts, ALPHAS, score_tensors, 2, method, weights)
    np.testing.assert_allclose(seen, want_scores, rtol=1e-10, atol=1e-12)
    assert got_a == want_a and m.point_alphas == want_a
    assert got_best == pytest.approx(want_best, rel=1e-10, abs=1e-12)
    got = m.merge(weights).to_numpy()
    for k, v in want_tensors.items():
        np.testing.assert_allclose(got[k], v, rtol=1e-10, atol=1e-12, err_msg=k)
    # never worse than the global search, which is its first phase
    assert got_best >= max(seen[:len(ALPHAS)])


def test_point_search_can_beat_the_global_one_and_a_rerun_reproduces_it():
    # a score that wants alpha 0 at the first point and 1 at the others: no
    # single alpha has it, the coordinate rounds find it
    models = [toy_nets.random_mlp(MLP_WIDTHS, 40 + i) for i in range(2)]
    acts = mlp_activations(models, seed=4)
    m = matcher(models, acts, "align")
    names = m.graph.point_names
    # score by the merged tensors against the goal's merged tensors
    fresh = matcher(models, acts, "align")
    fresh.set_point_alphas([0.0 if j == 0 else 1.0 for j in range(len(names))])
    fresh.run()
    target = fresh.merge().to_numpy()

    def closeness(model, alpha):
        t = model.to_numpy()
        return -sum(float(np.sum((t[k] - target[k]) ** 2)) for k in target)

    got_a, best = m.search_point_alphas(ALPHAS, closeness, rounds=3)
    assert best == pytest.approx(0.0, abs=1e-18)
    _, global_scores = matcher(models, acts, "align").search_alpha(ALPHAS, closeness)
    assert best > max(global_scores)  # the per-point search found better
    again = matcher(models, acts, "align")
    again.set_point_alphas(got_a)
    again.run()
    for name in names:
        np.testing.assert_array_equal(again.assignment(name), m.assignment(name))
    # search_alpha drops per-point alphas on success
    m.search_alpha([0.5], closeness)
    assert m.point_alphas == [0.5] * len(names)


def test_point_search_errors_leave_the_matcher_as_it_was():
    models = related_mlps(2, seed=1)
    acts = mlp_activations(models, seed=1)
    m = matcher(models, acts, "align")
    m.set_point_alphas([0.3] * len(m.graph.point_names))
    m.run()
    before = {p: m.assignment(p) for p in m.graph.point_names}
    calls = []

    def boom(model, alpha):
        calls.append(alpha)
        if len(calls) > len(ALPHAS) + 2:  # fails in the coordinate rounds
            raise KeyError("stop here")
        return float(len(calls))

    with pytest.raises(KeyError, match="stop here"):
        m.search_point_alphas(ALPHAS, boom, rounds=1)
    assert m.point_alphas == [0.3] * len(m.graph.point_names)
    for p, a in before.items():
        np.testing.assert_array_equal(m.assignment(p), a)
    with pytest.raises(mudsc.InvalidArgumentError, match="rounds = -1"):
        m.search_point_alphas(ALPHAS, boom, rounds=-1)
    with pytest.raises(mudsc.InvalidArgumentError, match=r"alphas\[0\] = 1.5"):
        m.set_point_alphas([1.5] * len(m.graph.point_names))
    with pytest.raises(mudsc.InvalidArgumentError, match="n_points = 1"):
        m.set_point_alphas([0.5])


def test_torch_search_alpha_per_point_on_mlps():
    import mudsc.torch as mt
    nets, g, batches, score = torch_pair_and_score()
    grid = [0.1, 0.5, 0.9]
    _, _, scores, _ = mt.search_alpha(nets, g, grid, score, batches=batches, method="zip")
    net, alphas, best, matcher = mt.search_alpha(nets, g, grid, score, batches=batches,
                                                 method="zip", per_point=True, rounds=2)
    assert list(alphas) == g.point_names and set(alphas.values()) <= set(grid)
    assert best >= max(scores)
    assert score(net) == pytest.approx(best, rel=1e-6)
    assert matcher.point_alphas == [alphas[p] for p in g.point_names]
