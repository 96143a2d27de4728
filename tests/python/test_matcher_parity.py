"""mudsc_matcher against the independent NumPy/SciPy oracle (tests/oracle/mudsc_ref.py):
the same correspondences (exactly), scores, objectives and sweeps, and the same
merged tensors (1e-10 relative; both compute in float64) for weight matching,
activation alignment, zip, MuDSC align and MuDSC zip, group align and group zip,
N = 2 and 3.  Networks are related (a noisy permuted copy) so optima are unique.

Both weight precisions: with float64 products (weight_precision="float64")
everything agrees to 1e-10 as above; with the default float32 products the
correspondences, sweeps and merged tensors are the same and every score and
objective is within the bound of docs/algorithm.md section 21 ((D + 2) u /
(1 - (D + 2) u), u = 2^-24, D the longest feature row), against the float64
oracle."""
import json

import numpy as np
import pytest

import mudsc_ref as ref
import toy_nets
from mudsc import Accumulator, Graph, Matcher, Model, MudscError

MLP_WIDTHS = [10, 24, 16, 6]


def related_mlps(N, seed, norm=False):
    """Model 0 random; model i = model 0 with hidden units permuted, plus noise."""
    rng = np.random.default_rng(seed)
    base = toy_nets.random_mlp(MLP_WIDTHS, seed, norm=norm)
    models = [base]
    for _ in range(1, N):
        perms = {k: rng.permutation(MLP_WIDTHS[k]) for k in range(1, len(MLP_WIDTHS) - 1)}
        m = toy_nets.permute_mlp(base, perms)
        models.append({k: v + 0.3 * rng.standard_normal(v.shape) * v.std() for k, v in m.items()})
    return models


def related_fused(N, seed, G=2):
    rng = np.random.default_rng(seed)
    base = toy_nets.random_fused(7, 12, 8, 5, seed)
    models = [base]
    for _ in range(1, N):
        m = toy_nets.permute_fused(base, {"h0": rng.permutation(12),
                                          "a": toy_nets.block_perm(G, 8 // G, rng),
                                          "b": rng.permutation(8)})
        models.append({k: v + 0.3 * rng.standard_normal(v.shape) * v.std() for k, v in m.items()})
    return models


def mlp_activations(models, seed):
    x = np.random.default_rng(seed + 100).standard_normal((300, MLP_WIDTHS[0]))
    hidden = [toy_nets.mlp_forward(m, x)[1] for m in models]
    return {f"fc{k + 1}": ref.activation_similarity([h[k] for h in hidden])
            for k in range(len(MLP_WIDTHS) - 2)}


def fused_activations(models, seed, G=2):
    x = np.random.default_rng(seed + 100).standard_normal((300, 7))
    feats = [toy_nets.fused_forward(m, x, G)[1] for m in models]
    return {p: ref.activation_similarity([f[p] for f in feats]) for p in ("h0", "a", "b")}


def f32_bound(graph, models):
    """The float32 bound of S_w's entries: (D + 2) u / (1 - (D + 2) u) with D
    the longest feature row of any point (the oracle's features, untransformed:
    transforms keep the length under align and shorten it under zip)."""
    D = max(ref.weight_features(graph, models, p.name, {})[0].shape[1] for p in graph.points)
    t = (D + 2) * 2.0 ** -24
    return t / (1 - t)


def run_both(graph_dict, models, acts, weight_precision="float64", **opts):
    """(C matcher, oracle result) on the same inputs."""
    graph = ref.load_graph(graph_dict)
    expect = ref.mudsc(graph, models, activations=acts, **opts)
    cmodels = [Model.from_numpy(m) for m in models]
    g = Graph.from_json(json.dumps(graph_dict))
    copts = {"method": opts.get("method", "align"), "alpha": opts.get("alpha", 0.5),
             "weight_precision": weight_precision}
    for ours, theirs in (("zip_r", "r"), ("zip_a", "a"), ("zip_b", "b"), ("seed", "seed"),
                         ("max_iter", "max_iter"), ("patience", "patience"),
                         ("sweep_order", "sweep_order")):
        if theirs in opts:
            copts[ours] = opts[theirs]
    if "use_groups" in opts:
        copts["use_groups"] = int(opts["use_groups"])
    m = Matcher(g, cmodels, **copts)
    if acts:
        for k, p in enumerate(graph.points):
            m.set_activation_similarity(k, acts[p.name])
    m.run()
    return m, expect, graph


def assert_same(m, expect, graph, models, N):
    """Exact agreement (1e-10) with float64 products, the float32 bound on
    the scores otherwise; correspondences and merged tensors alike."""
    f32 = m.options.weight_precision == 0
    rtol, atol = (0.0, f32_bound(graph, models)) if f32 else (1e-10, 1e-12)
    assert m.sweeps == expect.sweeps
    assert m.best_sweep == expect.best_sweep
    np.testing.assert_allclose(m.objectives, expect.objectives, rtol=rtol, atol=atol)
    for k, p in enumerate(graph.points):
        corr = expect.corr[p.name]
        got = m.assignment(k)
        np.testing.assert_array_equal(got, corr.P, err_msg=p.name)
        res = m.point_result(k)
        assert res.merged_width == corr.Cp
        for i in range(N):
            np.testing.assert_array_equal(m.matrix(k, i, "merge"), corr.merge(i))
            np.testing.assert_array_equal(m.matrix(k, i, "unmerge"), corr.unmerge(i))
        np.testing.assert_allclose([res.weight, res.activation, res.combined],
                                   expect.scores[p.name], rtol=rtol, atol=atol, equal_nan=True)
    merged = m.merge().to_numpy()
    want = ref.merged_tensors(graph, models, expect.corr)
    assert list(merged) == list(want)
    for name in want:
        np.testing.assert_allclose(merged[name], want[name], rtol=1e-10, atol=1e-12,
                                   err_msg=name)


CASES = [
    # (description, options, with activations)
    ("weight matching", {"method": "align"}, False),
    ("activation alignment", {"method": "align", "alpha": 0.0}, True),
    ("MuDSC align", {"method": "align", "alpha": 0.5}, True),
    ("activation zip", {"method": "zip", "alpha": 0.0}, True),
    ("MuDSC zip", {"method": "zip", "alpha": 0.5}, True),
    ("weight zip", {"method": "zip"}, False),
    ("MuDSC zip a<=0, b=0.5", {"method": "zip", "alpha": 0.3, "a": 0.0, "b": 0.5}, True),
]


PRECISIONS = ["float64", "float32"]


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("N", [2, 3])
@pytest.mark.parametrize("desc, opts, with_acts", CASES, ids=[c[0] for c in CASES])
def test_mlp_parity(N, desc, opts, with_acts, precision):
    models = related_mlps(N, seed=N)
    acts = mlp_activations(models, seed=N) if with_acts else None
    m, expect, graph = run_both(toy_nets.mlp_graph(MLP_WIDTHS), models, acts, seed=3,
                                weight_precision=precision, **opts)
    assert_same(m, expect, graph, models, N)


@pytest.mark.parametrize("N", [2, 3])
@pytest.mark.parametrize("desc, opts, with_acts", [CASES[0], CASES[2], CASES[5]],
                         ids=[CASES[k][0] for k in (0, 2, 5)])
def test_graph_first_sweep_order_parity(N, desc, opts, with_acts):
    """sweep_order="graph_first": the first sweep in point order 0..P-1,
    the later ones in the random orders (algorithm.md section 10).  Seed 2
    draws the order (1, 0) first, so the two orders differ."""
    models = related_mlps(N, seed=N)
    acts = mlp_activations(models, seed=N) if with_acts else None
    graph = toy_nets.mlp_graph(MLP_WIDTHS)
    m, expect, g = run_both(graph, models, acts, seed=2, sweep_order="graph_first", **opts)
    assert_same(m, expect, g, models, N)
    assert ref.shuffled_order(ref.SplitMix64(2), len(g.points)) == [1, 0]
    visits = {}
    for order in ("graph_first", "random"):
        seen = []
        c = Matcher(Graph.from_json(json.dumps(graph)), [Model.from_numpy(x) for x in models],
                    method=opts["method"], alpha=opts.get("alpha", 0.5), seed=2,
                    sweep_order=order,
                    progress=lambda p, s, score, seen=seen: seen.append((s, p)) and False)
        if acts:
            for k, p in enumerate(g.points):
                c.set_activation_similarity(k, acts[p.name])
        c.run()
        visits[order] = [p for s, p in seen if s == 0]
    assert visits == {"graph_first": [0, 1], "random": [1, 0]}


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("N", [2, 3])
@pytest.mark.parametrize("method", ["align", "zip"])
@pytest.mark.parametrize("use_groups", [True, False])
def test_grouped_split_parity(N, method, use_groups, precision):
    """Splits (a whole-tensor binding beside part bindings) and a grouped point."""
    models = related_fused(N, seed=10 + N)
    acts = fused_activations(models, seed=N)
    m, expect, graph = run_both(toy_nets.fused_graph(12, 8, 2), models, acts, method=method,
                                alpha=0.5, use_groups=use_groups, seed=1,
                                weight_precision=precision)
    assert_same(m, expect, graph, models, N)


@pytest.mark.parametrize("method", ["align", "zip"])
def test_float32_weight_similarity_within_its_bound(method):
    """Long feature rows (D = 1408 and 1280): one sweep of weight matching on
    an MLP 512-384-256-10 pair; each point's mean matched S_w with float32
    products is within (D + 2) u of the float64 oracle's, with the same
    correspondences, and the default precision is float32."""
    widths = [512, 384, 256, 10]
    rng = np.random.default_rng(4)
    base = toy_nets.random_mlp(widths, 4)
    perms = {k: rng.permutation(widths[k]) for k in (1, 2)}
    other = {k: v + 0.3 * rng.standard_normal(v.shape) * v.std()
             for k, v in toy_nets.permute_mlp(base, perms).items()}
    graph_dict = toy_nets.mlp_graph(widths)
    graph = ref.load_graph(graph_dict)
    expect = ref.mudsc(graph, [base, other], method=method, max_iter=1, seed=2)
    m = Matcher(Graph.from_json(json.dumps(graph_dict)), [base, other], method=method,
                max_iter=1, seed=2)
    assert m.options.weight_precision == 0
    m.run()
    bound = f32_bound(graph, [base, other])
    assert bound < 1e-4
    for k, p in enumerate(graph.points):
        np.testing.assert_array_equal(m.assignment(k), expect.corr[p.name].P)
        got = m.point_result(k).weight
        assert abs(got - expect.scores[p.name][0]) <= bound, p.name
        assert got != expect.scores[p.name][0]  # float32 products are in use


def test_mlp_with_batchnorm_parity():
    models = related_mlps(2, seed=5, norm=True)
    acts = mlp_activations(models, seed=5)
    graph = toy_nets.mlp_graph(MLP_WIDTHS, norm=True)
    m, expect, g = run_both(graph, models, acts, method="align", alpha=0.5)
    assert_same(m, expect, g, models, 2)


@pytest.mark.parametrize("method", ["align", "zip"])
def test_permuted_copy_merges_to_itself(method):
    """Sanity that can fail: a network merged with a randomly permuted copy of
    itself is the network itself (1e-12), with or without activations."""
    rng = np.random.default_rng(0)
    base = toy_nets.random_mlp(MLP_WIDTHS, 0)
    copy = toy_nets.permute_mlp(base, {1: rng.permutation(24), 2: rng.permutation(16)})
    for acts in (None, mlp_activations([base, copy], 0)):
        m, _, _ = run_both(toy_nets.mlp_graph(MLP_WIDTHS), [base, copy], acts, method=method)
        merged = m.merge().to_numpy()
        for name, value in base.items():
            np.testing.assert_allclose(merged[name], value, rtol=1e-12, atol=1e-12,
                                       err_msg=name)
        if method == "align":
            back = m.transform(1).to_numpy()
            for name, value in base.items():
                np.testing.assert_array_equal(back[name], value)


def test_alpha_one_without_activations_is_weight_matching():
    models = related_mlps(2, seed=7)
    acts = mlp_activations(models, seed=7)
    m1, _, g = run_both(toy_nets.mlp_graph(MLP_WIDTHS), models, None, method="align")
    m2, _, _ = run_both(toy_nets.mlp_graph(MLP_WIDTHS), models, None, method="align", alpha=1.0)
    for k, p in enumerate(g.points):
        np.testing.assert_array_equal(m1.assignment(k), m2.assignment(k))
    assert acts  # activations exist but were deliberately not given


def test_bad_inputs():
    models = related_mlps(2, seed=1)
    g = Graph.from_json(json.dumps(toy_nets.mlp_graph(MLP_WIDTHS)))
    cm = [Model.from_numpy(x) for x in models]
    with pytest.raises(MudscError) as e:
        Matcher(g, cm, alpha=1.5)
    assert e.value.name == "MUDSC_E_INVALID" and "alpha" in e.value.message
    with pytest.raises(MudscError) as e:
        Matcher(g, cm, method="zip", zip_r=1.0)
    assert "zip_r" in e.value.message
    with pytest.raises(MudscError) as e:
        Matcher(g, cm[:1])
    assert e.value.name == "MUDSC_E_INVALID"
    bad = dict(models[1])
    bad["fc1.weight"] = bad["fc1.weight"][:, :5]  # wrong fan-in: mismatched models
    with pytest.raises(MudscError) as e:
        Matcher(g, [cm[0], Model.from_numpy(bad)])
    assert e.value.name in ("MUDSC_E_SHAPE", "MUDSC_E_MISMATCH")
    m = Matcher(g, cm)
    with pytest.raises(MudscError) as e:
        m.merge()
    assert e.value.name == "MUDSC_E_STATE"
    acts = mlp_activations(models, 1)
    m.set_activation_similarity(0, acts["fc1"])  # only one of the two points
    with pytest.raises(MudscError) as e:
        m.run()
    assert e.value.name == "MUDSC_E_STATE" and "fc2" in e.value.message
    with pytest.raises(MudscError) as e:
        m.set_activation_similarity(0, acts["fc1"][:-1])
    assert e.value.name == "MUDSC_E_SHAPE"
    asym = acts["fc2"].copy()
    asym[0, 1] += 0.1
    with pytest.raises(MudscError) as e:
        m.set_activation_similarity(1, asym)
    assert "symmetric" in e.value.message


def test_similarity_check_names_the_first_bad_entry():
    """set_activation_similarity checks S_a in 32 x 32 tiles but names the
    first bad entry of the upper triangle in row order, whichever tile holds
    it (N C = 80: three tiles a side, the last partial)."""
    widths = [10, 40, 6]
    models = [toy_nets.random_mlp(widths, s) for s in (0, 1)]
    g = Graph.from_json(json.dumps(toy_nets.mlp_graph(widths)))
    m = Matcher(g, [Model.from_numpy(x) for x in models])
    rng = np.random.default_rng(0)
    good = np.corrcoef(rng.standard_normal((200, 80)), rowvar=False)
    good = (good + good.T) / 2
    m.set_activation_similarity(0, good)  # accepted

    def message(edits):
        S = good.copy()
        for (a, b), v in edits.items():
            S[a, b] = v
        with pytest.raises(MudscError) as e:
            m.set_activation_similarity(0, S)
        return e.value.name, e.value.message

    nan = float("nan")
    # row 2's asymmetry (third tile) before row 5's NaN (first tile)
    name, msg = message({(70, 2): 0.5, (5, 6): nan, (6, 5): nan})
    assert name == "MUDSC_E_INVALID" and "not symmetric at [2, 70]" in msg
    name, msg = message({(1, 60): 0.5, (1, 50): nan, (50, 1): nan})
    assert name == "MUDSC_E_NUMERIC" and "S_a[1, 50] is not finite" in msg
    name, msg = message({(79, 75): 0.25})  # the last, partial tile
    assert "not symmetric at [75, 79]" in msg
    name, msg = message({(33, 33): float("inf")})  # a diagonal entry
    assert name == "MUDSC_E_NUMERIC" and "S_a[33, 33]" in msg


def test_cancel_keeps_nothing_half_written():
    models = related_mlps(2, seed=2)
    g = Graph.from_json(json.dumps(toy_nets.mlp_graph(MLP_WIDTHS)))
    calls = []

    def progress(point, sweep, score):
        calls.append((point, sweep))
        return len(calls) == 3

    m = Matcher(g, [Model.from_numpy(x) for x in models], progress=progress)
    with pytest.raises(MudscError) as e:
        m.run()
    assert e.value.name == "MUDSC_E_CANCELLED"
    assert len(calls) == 3
    assert m.sweeps == -1  # no results were published
    with pytest.raises(MudscError):
        m.merge()


def test_merge_weights():
    """Weights: align with (0.25, 0.75) is that weighted sum of the permuted models;
    a non-finite weight is refused."""
    models = related_mlps(2, seed=4)
    m, expect, graph = run_both(toy_nets.mlp_graph(MLP_WIDTHS), models, None, method="align")
    got = m.merge([0.25, 0.75]).to_numpy()
    want = ref.merged_tensors(graph, models, expect.corr, weights=[0.25, 0.75])
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-12, err_msg=name)
    with pytest.raises(MudscError) as e:
        m.merge([0.5, float("nan")])
    assert e.value.name == "MUDSC_E_INVALID" and "weights[1]" in e.value.message


def test_streamed_activations_match_the_oracle():
    """The host path: hidden features streamed chunk by chunk into accumulators,
    handed to the matcher, give the oracle's result on the same features."""
    models = related_mlps(2, seed=9)
    x = np.random.default_rng(9).standard_normal((300, MLP_WIDTHS[0]))
    hidden = [toy_nets.mlp_forward(mm, x)[1] for mm in models]
    graph_dict = toy_nets.mlp_graph(MLP_WIDTHS)
    graph = ref.load_graph(graph_dict)
    acts = {f"fc{k + 1}": ref.activation_similarity([h[k] for h in hidden]) for k in range(2)}
    expect = ref.mudsc(graph, models, activations=acts, method="align", alpha=0.5)
    g = Graph.from_json(json.dumps(graph_dict))
    m = Matcher(g, [Model.from_numpy(mm) for mm in models], method="align", alpha=0.5)
    for k, p in enumerate(graph.points):
        with Accumulator(2, p.width) as acc:
            for start in range(0, 300, 70):  # uneven chunks, models interleaved
                for i in (1, 0):
                    acc.update(i, hidden[i][k][start:start + 70])
            m.set_activations(k, acc)
    m.run()
    for k, p in enumerate(graph.points):
        np.testing.assert_array_equal(m.assignment(k), expect.corr[p.name].P)


def _as_dtype(models, dtype):
    """(oracle models, library models) holding the same values in F16 or BF16."""
    import safetensors_np as st
    ours, theirs = [], []
    for m in models:
        if dtype == "F16":
            half = {k: v.astype(np.float16) for k, v in m.items()}
            theirs.append(half)
            ours.append(Model.from_numpy(half))
        else:
            raw = {k: st.Raw("BF16", st.f32_to_bf16(v.astype(np.float32))) for k, v in m.items()}
            theirs.append(raw)
            cm = Model()
            for k, r in raw.items():
                cm.add(k, r.bits, dtype="BF16", copy=True)
            ours.append(cm)
    return theirs, ours


@pytest.mark.parametrize("N", [2, 3])
@pytest.mark.parametrize("dtype", ["F16", "BF16"])
def test_half_precision_merges_are_rounded_once(N, dtype):
    """Merged F16 and BF16 tensors equal the oracle's bit for bit: the float64
    merge rounded once to nearest even (docs/algorithm.md section 11.4), not
    twice through float32.  N = 3 weights of 1/3 make sums that float32 cannot
    hold, where rounding twice would differ near ties."""
    theirs, ours = _as_dtype(related_mlps(N, seed=20 + N), dtype)
    graph_dict = toy_nets.mlp_graph(MLP_WIDTHS)
    graph = ref.load_graph(graph_dict)
    expect = ref.mudsc(graph, theirs, method="align", seed=3)
    m = Matcher(Graph.from_json(json.dumps(graph_dict)), ours, method="align", seed=3)
    m.run()
    for k, p in enumerate(graph.points):
        np.testing.assert_array_equal(m.assignment(k), expect.corr[p.name].P)
    merged = m.merge()
    want = ref.merged_tensors(graph, theirs, expect.corr)
    for name, w in want.items():
        bits = w.bits if dtype == "BF16" else np.asarray(w).view(np.uint16)
        np.testing.assert_array_equal(merged.bits(name), bits, err_msg=name)
