"""Cross-block statistics (opts->mode = MUDSC_STATS_CROSS) and statistics on
demand (mudsc_matcher_set_stats / _file / _callback), issue 13: against the
float64 NumPy oracle written from the definition (tests/oracle/accum_ref.py
cross_stats), and the three sources against today's all-at-once path."""
import json

import numpy as np
import pytest

import mudsc
import accum_ref
import toy_nets
from test_matcher_parity import MLP_WIDTHS, related_mlps

GRAPH = toy_nets.mlp_graph(MLP_WIDTHS)
# the accumulator's documented bound for F32 input (algorithm.md sections 12, 14)
F32_BOUND = 2e-6


def graph():
    return mudsc.Graph.from_json(json.dumps(GRAPH))


def features(N, C, n, seed, offset=100.0):
    """N related models' features (model i = a mix of model 0 and noise),
    float32, means far from 0 (the shifts' job)."""
    rng = np.random.default_rng(seed)
    x0 = rng.standard_normal((n, C))
    xs = [x0]
    for _ in range(1, N):
        xs.append(0.7 * x0[:, rng.permutation(C)] + 0.5 * rng.standard_normal((n, C)))
    return [(x + offset * rng.standard_normal(C)).astype(np.float32) for x in xs]


def stream(acc, xs, chunk):
    n = xs[0].shape[0]
    for k in range(0, n, chunk):
        for i, x in enumerate(xs):
            acc.update(i, x[k:k + chunk])


@pytest.mark.parametrize("N", [2, 3])
def test_cross_blocks_and_moments_match_the_oracle(N):
    xs = features(N, 7, 5000, seed=N)
    want = accum_ref.cross_stats(xs)
    acc = mudsc.Accumulator(N, 7, mode="cross")
    assert acc.mode == "cross"
    stream(acc, xs, 1000)
    assert np.abs(acc.cross_correlation() - want["cross"]).max() < F32_BOUND
    assert np.abs(acc.means() - want["means"]).max() < 1e-9 * 100
    assert np.abs(acc.stddevs() - want["std"]).max() < F32_BOUND
    # the full mode's cross blocks: the same entries of the NC x NC correlation, bit for bit
    full = mudsc.Accumulator(N, 7)
    stream(full, xs, 1000)
    S, cc = full.correlation(), full.cross_correlation()
    for i in range(1, N):
        assert np.array_equal(cc[i - 1], S[:7, 7 * i:7 * (i + 1)])
    assert np.abs(cc - acc.cross_correlation()).max() < 2 * F32_BOUND


def test_cross_mode_has_no_full_results_and_keeps_its_mode():
    xs = features(2, 4, 200, seed=5)
    acc = mudsc.Accumulator(2, 4, mode="cross")
    stream(acc, xs, 64)
    with pytest.raises(mudsc.UnsupportedError, match="mudsc_accum_correlation: .*cross_correlation"):
        acc.correlation()
    with pytest.raises(mudsc.UnsupportedError, match="mudsc_accum_covariance"):
        acc.covariance()
    back = mudsc.Accumulator.from_bytes(acc.to_bytes())
    assert back.mode == "cross" and back.to_bytes() == acc.to_bytes()
    with pytest.raises(mudsc.MismatchError, match="cross-block statistics, src full"):
        acc.merge(mudsc.Accumulator(2, 4))
    with pytest.raises(mudsc.InvalidArgumentError):
        mudsc.Accumulator(2, 4, mode="diagonal")


def test_cross_merge_equals_one_stream():
    xs = features(3, 5, 3000, seed=9)
    whole = mudsc.Accumulator(3, 5, mode="cross")
    stream(whole, xs, 500)
    a, b = mudsc.Accumulator(3, 5, mode="cross"), mudsc.Accumulator(3, 5, mode="cross")
    stream(a, [x[:1700] for x in xs], 500)
    stream(b, [x[1700:] for x in xs], 500)
    a.merge(b)
    want = accum_ref.cross_stats(xs)
    assert np.abs(a.cross_correlation() - want["cross"]).max() < F32_BOUND
    assert np.abs(a.cross_correlation() - whole.cross_correlation()).max() < F32_BOUND


def hidden(models, n=400, seed=3):
    x = np.random.default_rng(seed).standard_normal((n, MLP_WIDTHS[0]))
    return [toy_nets.mlp_forward(m, x)[1] for m in models]


def stats_set(models, mode):
    g = graph()
    s = mudsc.Stats(g, len(models), mode=mode)
    hs = hidden(models)
    for k in range(len(MLP_WIDTHS) - 2):
        for i, h in enumerate(hs):
            s.update(f"fc{k + 1}", i, np.asarray(h[k], dtype=np.float32))
    return s


def result(m):
    return [m.permutation(p, i) for p in range(len(MLP_WIDTHS) - 2) for i in range(m.n_models)]


@pytest.mark.parametrize("alpha", [0.0, 0.5])
@pytest.mark.parametrize("mode", ["full", "cross"])
def test_sources_are_bit_identical_and_equal_the_all_at_once_path(tmp_path, alpha, mode):
    models = related_mlps(3, seed=4)
    cm = [mudsc.Model.from_numpy(m) for m in models]
    s = stats_set(models, mode)
    path = tmp_path / "stats.safetensors"
    s.save(str(path))
    runs = {}
    # today's path: every point's S_a copied at once from its accumulator
    m0 = mudsc.Matcher(graph(), cm, alpha=alpha, max_iter=3)
    for p in range(len(s)):
        m0.set_activations(p, s.point(p))
    m0.run()
    runs["all-at-once"] = (result(m0), m0.objectives if alpha > 0 else None)
    m1 = mudsc.Matcher(graph(), cm, alpha=alpha, max_iter=3)
    m1.set_stats(s)
    m1.run()
    runs["set"] = (result(m1), m1.objectives if alpha > 0 else None)
    m2 = mudsc.Matcher(graph(), cm, alpha=alpha, max_iter=3)
    m2.set_stats_file(path)
    m2.run()
    runs["file"] = (result(m2), m2.objectives if alpha > 0 else None)
    calls = []
    loaded = mudsc.Stats.load(str(path), graph())

    def give(point, name, width):
        calls.append(name)
        return loaded[name]

    m3 = mudsc.Matcher(graph(), cm, alpha=alpha, max_iter=3)
    m3.set_stats_callback(give)
    m3.run()
    runs["callback"] = (result(m3), m3.objectives if alpha > 0 else None)
    assert calls and set(calls) == {"fc1", "fc2"}
    ref_perm, ref_obj = runs["all-at-once"]
    for k, (perm, obj) in runs.items():
        assert all(np.array_equal(a, b) for a, b in zip(perm, ref_perm)), k
        if obj is not None:
            assert np.array_equal(obj, ref_obj), k


def test_cross_mode_align_equals_full_mode_align():
    models = related_mlps(2, seed=8)
    cm = [mudsc.Model.from_numpy(m) for m in models]
    perms = {}
    for mode in ("full", "cross"):
        m = mudsc.Matcher(graph(), cm, alpha=0.5, max_iter=4)
        m.set_stats(stats_set(models, mode))
        m.run()
        perms[mode] = result(m)
    assert all(np.array_equal(a, b) for a, b in zip(perms["full"], perms["cross"]))


def test_zip_refuses_cross_blocks(tmp_path):
    models = related_mlps(2, seed=2)
    cm = [mudsc.Model.from_numpy(m) for m in models]
    s = stats_set(models, "cross")
    path = tmp_path / "cross.safetensors"
    s.save(str(path))
    m = mudsc.Matcher(graph(), cm, method="zip")
    with pytest.raises(mudsc.UnsupportedError, match="mudsc_matcher_set_stats: .*zip.*needs the full"):
        m.set_stats(s)
    with pytest.raises(mudsc.UnsupportedError, match="mudsc_matcher_set_stats_file: "):
        m.set_stats_file(path)
    with pytest.raises(mudsc.UnsupportedError, match="mudsc_matcher_set_activations: "):
        m.set_activations(0, s.point(0))
    m.set_stats_callback(lambda p, name, w: s[name])
    with pytest.raises(mudsc.UnsupportedError, match="mudsc_matcher_run: point 'fc1'"):
        m.run()


def test_callback_errors_name_the_point():
    models = related_mlps(2, seed=2)
    cm = [mudsc.Model.from_numpy(m) for m in models]
    m = mudsc.Matcher(graph(), cm)

    def boom(point, name, width):
        raise KeyError(name)

    m.set_stats_callback(boom)
    with pytest.raises(mudsc.InvalidArgumentError, match="point 'fc1'") as e:
        m.run()
    assert isinstance(e.value.__cause__, KeyError)
    m.set_stats_callback(lambda p, name, w: mudsc.Accumulator(2, w + 1))
    with pytest.raises(mudsc.MismatchError, match="point 'fc1'"):
        m.run()


def refused_figure(fn):
    """The byte figure of a memory-budget refusal ("would allocate about N bytes")."""
    with pytest.raises(mudsc.OutOfMemoryError) as e:
        fn()
    return int(str(e.value).split("about ")[1].split(" bytes")[0])


@pytest.mark.parametrize("mode", ["full", "cross"])
def test_budget_counts_one_point_as_the_header_formula(mode):
    """matcher.h: align with alpha > 0 peaks at H + 8X (S_a) + 8X (S) + the
    run without activations (F + L; S_w is the cached cross blocks), i.e. the
    weight-matching figure + 16 X + H, X = (N-1) C^2 of the widest point (the
    anchor blocks); H = the set's file bytes for set_stats, 0 for a callback.
    Not one (N C_p)^2 per point."""
    models = related_mlps(2, seed=4)
    cm = [mudsc.Model.from_numpy(m) for m in models]
    C = max(MLP_WIDTHS[1:-1])
    W = C  # (N-1) C^2 = C^2 at N = 2
    run = refused_figure(lambda: mudsc.Matcher(graph(), cm, alpha=0.5, threads=1, max_memory=1))
    # new() checks run() first, then merge(), which may need more
    merge = refused_figure(lambda: mudsc.Matcher(graph(), cm, alpha=0.5, threads=1,
                                                 max_memory=run))
    assert run + 16 * W * W > merge
    m = mudsc.Matcher(graph(), cm, alpha=0.5, threads=1, max_memory=merge)
    s = stats_set(models, mode)
    H = len(s.to_bytes())
    assert refused_figure(lambda: m.set_stats_callback(lambda p, n, w: s[n])) == run + 16 * W * W
    assert refused_figure(lambda: m.set_stats(s)) == run + 16 * W * W + H
    ok = mudsc.Matcher(graph(), cm, alpha=0.5, threads=1, max_memory=run + 16 * W * W + H)
    ok.set_stats(s)
    ok.run()


def test_budget_keeps_every_points_cross_blocks_only_with_room():
    """budget.h: the figures count the widest point's cross blocks; align
    keeps every point's between matchings when the run's figure plus the
    other points' blocks (8 (N-1) C_p^2 bytes each) fits max_memory (or there
    is no limit), else frees a point's after it is matched: at the run's own
    figure it frees them, at that figure plus the other points' bytes it
    keeps them, and the results are the same either way."""
    models = related_mlps(2, seed=4)
    cm = [mudsc.Model.from_numpy(m) for m in models]
    s = stats_set(models, "cross")
    hidden_widths = MLP_WIDTHS[1:-1]
    others = 8 * sum(C * C for C in hidden_widths) - 8 * max(hidden_widths) ** 2
    run = refused_figure(lambda: mudsc.Matcher(graph(), cm, alpha=0.5, threads=1, max_memory=1))
    merge = refused_figure(lambda: mudsc.Matcher(graph(), cm, alpha=0.5, threads=1,
                                                 max_memory=run))
    m = mudsc.Matcher(graph(), cm, alpha=0.5, threads=1, max_memory=merge)
    need = refused_figure(lambda: m.set_stats_callback(lambda p, n, w: s[n]))
    logs = []
    mudsc.set_log_callback(lambda level, message: logs.append(message), "debug")
    try:
        runs = {}
        for budget in (need, need + others - 1, need + others, 0):
            m = mudsc.Matcher(graph(), cm, alpha=0.5, threads=1, max_memory=budget)
            m.set_stats_callback(lambda p, n, w: s[n])
            del logs[:]
            m.run()
            said = [t for t in logs if "cross blocks" in t]
            assert len(said) == 1, logs
            assert f"the other points' cross blocks: {others} bytes" in said[0]
            runs[budget] = ("kept" in said[0], result(m), m.objectives)
    finally:
        mudsc.set_log_callback(None)
    assert [runs[b][0] for b in (need, need + others - 1, need + others, 0)] == \
        [False, False, True, True]
    for b in (need, need + others - 1, need + others):
        assert runs[b][2] == runs[0][2]
        assert all(np.array_equal(x, y) for x, y in zip(runs[b][1], runs[0][1]))
