"""mudsc.Matcher and mudsc.merge against the independent NumPy oracle
(tests/oracle/mudsc_ref.py) on a small MLP: the same permutations, merge and
unmerge matrices, scores, objectives, sweeps and merged tensors, with
activations given as similarity arrays or streamed through Accumulators;
plus progress callbacks, freezing, lifetimes and the error paths."""
import gc
import json

import numpy as np
import pytest

import mudsc
import mudsc_ref as ref
import toy_nets
from test_matcher_parity import MLP_WIDTHS, f32_bound, mlp_activations, related_mlps

GRAPH = toy_nets.mlp_graph(MLP_WIDTHS)


def graph():
    return mudsc.Graph.from_json(json.dumps(GRAPH))


def hidden_features(models, seed):
    x = np.random.default_rng(seed + 100).standard_normal((300, MLP_WIDTHS[0]))
    return [toy_nets.mlp_forward(m, x)[1] for m in models]


def accumulators(models, seed):
    """Point name -> Accumulator of the models' hidden features, streamed in
    interleaved uneven chunks."""
    hidden = hidden_features(models, seed)
    out = {}
    for k in range(len(MLP_WIDTHS) - 2):
        a = mudsc.Accumulator(len(models), MLP_WIDTHS[k + 1])
        for start in range(0, 300, 70):
            for i in reversed(range(len(models))):
                a.update(i, hidden[i][k][start:start + 70])
        out[f"fc{k + 1}"] = a
    return out


def assert_result_equals_oracle(result, expect, models, method, rtol=1e-10, score_atol=None):
    """score_atol: the float32 bound (docs/algorithm.md section 21) for the
    objectives and scores of a float32 run; None: float64, to rtol."""
    g = ref.load_graph(GRAPH)
    srtol, satol = (0.0, score_atol) if score_atol is not None else (rtol, 1e-12)
    assert result.points == [p.name for p in g.points]
    assert result.sweeps == expect.sweeps and result.best_sweep == expect.best_sweep
    np.testing.assert_allclose(result.objectives, expect.objectives, rtol=srtol, atol=satol)
    for p in g.points:
        corr = expect.corr[p.name]
        score = result.scores[p.name]
        assert isinstance(score, mudsc.PointResult) and score.merged_width == corr.Cp
        np.testing.assert_allclose(score[1:], expect.scores[p.name], rtol=srtol, atol=satol,
                                   equal_nan=True)
        for i in range(len(models)):
            merge_m, unmerge_m = result.matrices[p.name][i]
            np.testing.assert_array_equal(merge_m, corr.merge(i))
            np.testing.assert_array_equal(unmerge_m, corr.unmerge(i))
            if method == "align":
                np.testing.assert_array_equal(result.permutations[p.name][i], corr.perm(i))
    if method != "align":
        assert result.permutations is None
    want = ref.merged_tensors(g, models, expect.corr)
    assert list(result.tensors) == list(want) == result.model.names()
    for name, value in want.items():
        np.testing.assert_allclose(result.tensors[name], value, rtol=rtol, atol=1e-12,
                                   err_msg=name)


CASES = [("align", 1.0, False), ("align", 0.0, True), ("align", 0.5, True),
         ("zip", 0.0, True), ("zip", 0.5, True)]


@pytest.mark.parametrize("precision", ["float64", "float32"])
@pytest.mark.parametrize("N", [2, 3])
@pytest.mark.parametrize("method, alpha, with_acts", CASES)
def test_merge_equals_oracle(N, method, alpha, with_acts, precision):
    """mudsc.merge passes weight_precision on: float64 agrees to 1e-10, the
    default float32 within its bound (the same correspondences and tensors)."""
    models = related_mlps(N, seed=N)
    acts = mlp_activations(models, seed=N) if with_acts else None
    expect = ref.mudsc(ref.load_graph(GRAPH), models, activations=acts, method=method,
                       alpha=alpha, seed=3)
    kw = {} if precision == "float32" else {"weight_precision": precision}
    result = mudsc.merge(models, graph(), activations=acts, method=method, alpha=alpha, seed=3,
                         **kw)
    bound = f32_bound(ref.load_graph(GRAPH), models) if precision == "float32" else None
    assert_result_equals_oracle(result, expect, models, method, score_atol=bound)


@pytest.mark.parametrize("method", ["align", "zip"])
def test_merge_with_streamed_accumulators_equals_oracle(method):
    models = related_mlps(2, seed=9)
    hidden = hidden_features(models, 9)
    acts = {f"fc{k + 1}": ref.activation_similarity([h[k] for h in hidden]) for k in range(2)}
    expect = ref.mudsc(ref.load_graph(GRAPH), models, activations=acts, method=method,
                       alpha=0.5)
    result = mudsc.merge([mudsc.Model.from_numpy(m) for m in models], graph(),
                         activations=accumulators(models, 9), method=method, alpha=0.5,
                         weight_precision="float64")
    assert_result_equals_oracle(result, expect, models, method, rtol=1e-8)


def test_merge_reads_matrices_only_when_asked(monkeypatch):
    models = related_mlps(2, seed=5)
    reads = []
    real = mudsc.Matcher.matrix
    monkeypatch.setattr(mudsc.Matcher, "matrix",
                        lambda self, *args: reads.append(args) or real(self, *args))
    result = mudsc.merge(models, graph(), method="zip", alpha=1.0)
    assert reads == []
    g = ref.load_graph(GRAPH)
    expect = ref.mudsc(g, models, method="zip", alpha=1.0)
    assert list(result.matrices) == result.points and len(result.matrices) == len(g.points)
    del models
    gc.collect()  # the matcher, kept by result.matrices, keeps what it reads alive
    first = g.points[0].name
    for i in range(2):
        np.testing.assert_array_equal(result.matrices[first][i][0], expect.corr[first].merge(i))
    assert len(reads) == 4
    assert result.matrices[first] is result.matrices[first] and len(reads) == 4  # read once
    with pytest.raises(KeyError):
        result.matrices["no such point"]


def test_matcher_calls_equal_oracle_and_weights():
    models = related_mlps(2, seed=4)
    acts = mlp_activations(models, seed=4)
    g = ref.load_graph(GRAPH)
    expect = ref.mudsc(g, models, activations=acts, method="align", alpha=0.5)
    m = mudsc.Matcher(graph(), models, method="align", alpha=0.5)
    assert m.sweeps == -1 and "2 models" in repr(m)
    for name, S in acts.items():
        m.set_activation_similarity(name, S)
    m.run()
    for k, p in enumerate(g.points):
        np.testing.assert_array_equal(m.assignment(k), expect.corr[p.name].P)
        np.testing.assert_array_equal(m.assignment(p.name), expect.corr[p.name].P)
        np.testing.assert_array_equal(m.permutation(p.name, 1), expect.corr[p.name].perm(1))
        np.testing.assert_array_equal(m.matrix(k, 1, "unmerge"), expect.corr[p.name].unmerge(1))
    want = ref.merged_tensors(g, models, expect.corr, weights=[0.25, 0.75])
    got = m.merge([0.25, 0.75])
    for name, value in want.items():
        np.testing.assert_allclose(got[name], value, rtol=1e-12, err_msg=name)
    back = m.transform(1)
    for name, value in ref.permute_only(g, models, expect.corr, 1).items():
        np.testing.assert_array_equal(back[name], value)


def test_permuted_copy_merges_to_itself():
    rng = np.random.default_rng(0)
    base = toy_nets.random_mlp(MLP_WIDTHS, 0)
    copy = toy_nets.permute_mlp(base, {1: rng.permutation(24), 2: rng.permutation(16)})
    for acts in (None, accumulators([base, copy], 0)):
        result = mudsc.merge([base, copy], graph(), activations=acts)
        for name, value in base.items():
            np.testing.assert_allclose(result.tensors[name], value, rtol=1e-12, atol=1e-12)


def test_models_are_frozen_and_kept_alive():
    models = [mudsc.Model.from_numpy(m) for m in related_mlps(2, seed=1)]
    g = graph()
    m = mudsc.Matcher(g, models)
    assert all(x.frozen for x in models)
    with pytest.raises(mudsc.StateError):
        models[0].add("late", np.zeros(1))
    for x in models:
        x.close()
    g.close()
    del models, g
    gc.collect()
    m.run()  # the matcher still holds its graph and models
    merged = m.merge()
    assert "fc1.weight" in merged
    m.close()
    gc.collect()
    assert merged["fc1.weight"].shape == (24, 10)  # the merged model is independent


def test_progress_callback_cancel_and_exceptions():
    models = related_mlps(2, seed=2)
    calls = []
    m = mudsc.Matcher(graph(), models, progress=lambda p, s, score: calls.append((p, s, score)))
    m.run()
    assert len(calls) == 2 * m.sweeps and all(isinstance(c[2], float) for c in calls)
    stop = mudsc.Matcher(graph(), models, progress=lambda p, s, score: len(calls) > 0)
    with pytest.raises(mudsc.CancelledError):
        stop.run()
    assert stop.sweeps == -1

    def boom(p, s, score):
        raise KeyboardInterrupt("user stop")
    crash = mudsc.Matcher(graph(), models, progress=boom)
    with pytest.raises(KeyboardInterrupt, match="user stop"):
        crash.run()
    with pytest.raises(mudsc.StateError):
        crash.merge()


def test_error_paths():
    models = related_mlps(2, seed=1)
    g = graph()
    with pytest.raises(mudsc.InvalidArgumentError, match="alpha"):
        mudsc.Matcher(g, models, alpha=1.5)
    with pytest.raises(mudsc.InvalidArgumentError, match="method"):
        mudsc.Matcher(g, models, method="average")
    with pytest.raises(mudsc.InvalidArgumentError, match="similarity"):
        mudsc.Matcher(g, models, similarity="euclid")
    with pytest.raises(mudsc.InvalidArgumentError):
        mudsc.Matcher(g, models[:1])
    m = mudsc.Matcher(g, models, method="zip", similarity="cosine", use_groups=False,
                      max_iter=3, patience=1, threads=1, eps=1e-6)
    with pytest.raises(mudsc.StateError):
        m.point_result(0)
    acts = mlp_activations(models, 1)
    m.set_activation_similarity("fc1", acts["fc1"])
    with pytest.raises(mudsc.StateError, match="fc2"):
        m.run()
    with pytest.raises(mudsc.ShapeError):
        m.set_activation_similarity(0, acts["fc1"][:-1])
    with pytest.raises(mudsc.MismatchError):
        m.set_activations("fc2", mudsc.Accumulator(2, 3))
    m.set_activation_similarity("fc2", acts["fc2"])
    m.run()
    assert m.sweeps <= 3
    with pytest.raises(mudsc.StateError):
        m.permutation(0, 1)
    with pytest.raises(mudsc.InvalidArgumentError, match="kind"):
        m.matrix(0, 0, "both")
    with pytest.raises(mudsc.InvalidArgumentError, match="weights"):
        m.merge([1.0])
    with pytest.raises(mudsc.NotFoundError):
        m.assignment("fc9")
    with pytest.raises(mudsc.StateError):
        mudsc.merge(models, g, activations={"fc1": acts["fc1"]})


def test_memory_budget_refuses_a_wide_point_at_once():
    """Issue 11 defect 8: a point of width 40000 with N = 2 (align's cross
    blocks, 40000 x 40000, are 12.8 GB) is refused by the Matcher itself
    under the default budget, naming the figure and the option; max_memory=0
    lifts the limit, and mudsc.merge passes max_memory on."""
    rng = np.random.default_rng(5)
    w = 40000
    nets = [{"layers.0.weight": rng.standard_normal((w, 1)), "layers.0.bias": rng.standard_normal(w),
             "layers.1.weight": rng.standard_normal((1, w)), "layers.1.bias": rng.standard_normal(1)}
            for _ in range(2)]
    g = mudsc.Graph.mlp([w])
    with pytest.raises(mudsc.OutOfMemoryError, match=r"N\*C = 80000 units.*12.8 GB.*opts->max_memory"):
        mudsc.Matcher(g, nets)
    with pytest.raises(MemoryError, match="max_memory = 1000 bytes"):
        mudsc.merge(nets, g, max_memory=1000)
    m = mudsc.Matcher(g, nets, max_memory=0)
    assert m.options.max_memory == 0
    m.close()
    assert mudsc.Matcher(graph(), related_mlps(2, seed=1)).options.max_memory == 8 << 30


@pytest.mark.parametrize("method", ["align", "zip"])
def test_merge_to_file_is_merge_then_save(tmp_path, method):
    models = related_mlps(3, seed=12)
    m = mudsc.Matcher(graph(), models, method=method)
    m.run()
    want = tmp_path / "want.safetensors"
    got = tmp_path / "got.safetensors"
    m.merge(weights=[0.5, 0.3, 0.2]).save(want)
    m.merge_to_file(got, weights=[0.5, 0.3, 0.2])
    assert got.read_bytes() == want.read_bytes()
    m.transform(2).save(want)
    m.transform_to_file(got, 2)
    assert got.read_bytes() == want.read_bytes()
    with pytest.raises(mudsc.InvalidArgumentError, match="weights"):
        m.merge_to_file(got, weights=[1.0])
    with pytest.raises(mudsc.errors.MudscIOError, match="nonexistent"):
        m.merge_to_file(tmp_path / "nonexistent" / "x.safetensors")


def test_merge_to_file_progress_cancels_without_a_file(tmp_path):
    calls = []

    def progress(point, sweep, score):
        calls.append((point, sweep, score))
        if sweep == -1 and point == 2:
            raise KeyboardInterrupt

    m = mudsc.Matcher(graph(), related_mlps(2, seed=3), progress=progress)
    m.run()
    out = tmp_path / "out.safetensors"
    with pytest.raises(KeyboardInterrupt):
        m.merge_to_file(out)
    assert not out.exists() and list(tmp_path.iterdir()) == []
    assert [c[0] for c in calls if c[1] == -1] == [0, 1, 2]
