"""CCA merging (method "cca", docs/algorithm.md section 22) against the
NumPy/SciPy oracle tests/oracle/cca_ref.py: the transforms and the merged
tensors (1e-6 relative to each tensor's largest entry) for N = 2 and 3 on an
MLP (with and without groups), the fused split net and ResNet-20 (residual
streams, BatchNorm), from a statistics set, accumulators and host
covariances; the sanity check (a model merged with permuted copies of
itself comes back); the error paths; mudsc.torch.merge(method="cca")."""
import json

import numpy as np
import pytest

import cca_ref
import mudsc
import mudsc_ref as ref
import toy_nets

WIDTHS = [5, 8, 6, 3]
TOL = 1e-6


def assert_tensors(got, expect, tol=TOL):
    assert set(got) == set(expect)
    for name, e in expect.items():
        e = np.asarray(e, np.float64)
        g = np.asarray(got[name], np.float64)
        scale = max(float(np.abs(e).max()), 1e-300)
        assert g.shape == e.shape, name
        err = float(np.abs(g - e).max()) / scale
        assert err <= tol, f"{name}: relative error {err:.3g}"


def synthetic_feats(graph_doc, N, seed, n=300):
    """Per point, N models' features sharing a rotated signal plus noise."""
    rng = np.random.default_rng(seed)
    out = {}
    for p in graph_doc["points"]:
        C = p["width"]
        base = rng.standard_normal((n, C))
        feats = []
        for _ in range(N):
            R = rng.standard_normal((C, C)) / np.sqrt(C) + np.eye(C)
            feats.append(base @ R + 0.5 * rng.standard_normal((n, C)))
        out[p["name"]] = feats
    return out


def stats_of(graph, feats, N):
    st = mudsc.Stats(graph, N)
    for name, fs in feats.items():
        for i, f in enumerate(fs):
            st.update(name, i, f)
    return st


def groups_of(doc, use_groups=True):
    return {p["name"]: p.get("groups", 1) if use_groups else 1 for p in doc["points"]}


def run_cca(doc, models, feats, N, source="stats", ridge=None, **opts):
    g = mudsc.Graph.from_json(json.dumps(doc))
    m = mudsc.Matcher(g, models, method="cca", cca_ridge=ridge, **opts)
    if source == "stats":
        m.set_stats(stats_of(g, feats, N))
    elif source == "accum":
        for name, fs in feats.items():
            acc = mudsc.Accumulator(N, fs[0].shape[1])
            for i, f in enumerate(fs):
                acc.update(i, f)
            m.set_activations(name, acc)
    else:  # host covariances
        for name, fs in feats.items():
            m.set_activation_similarity(name, cca_ref.covariance(fs))
    m.run()
    return m


CASES = {
    "mlp": (lambda: toy_nets.mlp_graph(WIDTHS),
            lambda i: toy_nets.random_mlp(WIDTHS, 40 + i)),
    "mlp-groups": (lambda: toy_nets.mlp_graph(WIDTHS, groups={1: 2, 2: 3}),
                   lambda i: toy_nets.random_mlp(WIDTHS, 50 + i)),
    "mlp-bn": (lambda: toy_nets.mlp_graph(WIDTHS, norm=True),
               lambda i: toy_nets.random_mlp(WIDTHS, 60 + i, norm=True)),
    "fused": (lambda: toy_nets.fused_graph(6, 8, 2),
              lambda i: toy_nets.random_fused(4, 6, 8, 3, 70 + i)),
}


@pytest.mark.parametrize("N", [2, 3])
@pytest.mark.parametrize("case", list(CASES))
def test_cca_equals_the_oracle(case, N):
    make_doc, make_model = CASES[case]
    doc = make_doc()
    models = [make_model(i) for i in range(N)]
    feats = synthetic_feats(doc, N, seed=N)
    weights = None if N == 2 else [0.5, 0.3, 0.2]
    m = run_cca(doc, models, feats, N)
    groups = groups_of(doc)
    for k, p in enumerate(doc["points"]):
        M, U, rho = cca_ref.transforms(cca_ref.covariance(feats[p["name"]]), N, p["width"],
                                       groups[p["name"]], 0.1)
        for i in range(N):
            np.testing.assert_allclose(m.matrix(k, i, "merge"), M[i], rtol=0, atol=1e-9)
            np.testing.assert_allclose(m.matrix(k, i, "unmerge"), U[i], rtol=0, atol=1e-9)
        res = m.point_result(k)
        assert res.merged_width == p["width"]
        assert np.isnan(res.weight)
        assert abs(res.activation - rho) <= 1e-10 and abs(res.combined - rho) <= 1e-10
    assert m.sweeps == 0 and m.best_sweep == -1 and m.objectives == []
    expect = cca_ref.merged(doc, models, feats, groups, 0.1, weights)
    assert_tensors(m.merge(weights).to_numpy(), expect)
    # model 1 brought into model 0's space alone: the oracle's T_1'
    graph = ref.load_graph(doc)
    corr = {}
    for p in doc["points"]:
        M, U, _ = cca_ref.transforms(cca_ref.covariance(feats[p["name"]]), N, p["width"],
                                     groups[p["name"]], 0.1)
        corr[p["name"]] = cca_ref.DenseCorrespondence(M, U)
    assert_tensors(m.transform(1).to_numpy(), ref.transformed_tensors(graph, models, corr, 1))


@pytest.mark.parametrize("source", ["accum", "covariance"])
def test_every_source_gives_the_same_merge(source):
    doc = toy_nets.mlp_graph(WIDTHS, groups={1: 2})
    models = [toy_nets.random_mlp(WIDTHS, 80 + i) for i in range(3)]
    feats = synthetic_feats(doc, 3, seed=7)
    a = run_cca(doc, models, feats, 3).merge().to_numpy()
    b = run_cca(doc, models, feats, 3, source=source).merge().to_numpy()
    assert_tensors(b, a, tol=1e-12)


def test_ridge_and_use_groups_options():
    doc = toy_nets.mlp_graph(WIDTHS, groups={1: 2, 2: 3})
    models = [toy_nets.random_mlp(WIDTHS, 90 + i) for i in range(2)]
    feats = synthetic_feats(doc, 2, seed=11)
    m = run_cca(doc, models, feats, 2, ridge=0.5, use_groups=False)
    expect = cca_ref.merged(doc, models, feats, groups_of(doc, False), 0.5)
    assert_tensors(m.merge().to_numpy(), expect)
    # and the options matter: a different ridge gives different tensors
    other = run_cca(doc, models, feats, 2, ridge=0.0, use_groups=False).merge().to_numpy()
    assert max(float(np.abs(other[k] - expect[k]).max()) for k in expect) > 1e-3


@pytest.mark.parametrize("N", [2, 3])
def test_resnet20_equals_the_oracle(N):
    torch = pytest.importorskip("torch")
    import nets
    from test_graph_builders import randomise
    g = mudsc.Graph.resnet("resnet20")
    doc = json.loads(g.to_json())
    models = []
    for i in range(N):
        torch.manual_seed(i)
        net = randomise(nets.ResNet([3, 3, 3], [16, 32, 64], 16), seed=100 + i)
        models.append({k: v.detach().numpy().copy() for k, v in net.state_dict().items()})
    feats = synthetic_feats(doc, N, seed=3 + N, n=400)
    weights = None if N == 2 else [0.2, 0.3, 0.5]
    m = mudsc.Matcher(g, models, method="cca")
    m.set_stats(stats_of(g, feats, N))
    m.run()
    expect = cca_ref.merged(doc, models, feats, groups_of(doc), 0.1, weights)
    assert_tensors(m.merge(weights).to_numpy(), expect)


def permuted_feats_and_models(N, seed, norm=False):
    """Model 0 and N-1 copies with every hidden layer permuted; features:
    each model's own post-ReLU hidden activations on the same inputs."""
    rng = np.random.default_rng(seed)
    widths = [6, 12, 10, 4]
    m0 = toy_nets.random_mlp(widths, seed, norm=norm)
    models = [m0]
    for _ in range(1, N):
        models.append(toy_nets.permute_mlp(m0, {k: rng.permutation(widths[k])
                                                for k in (1, 2)}))
    x = rng.standard_normal((500, widths[0]))
    hidden = [toy_nets.mlp_forward(m, x, norm=norm)[1] for m in models]
    feats = {f"fc{k}": [hidden[i][k - 1] for i in range(N)] for k in (1, 2)}
    return widths, models, feats, x


@pytest.mark.parametrize("N", [2, 3])
def test_permuted_copies_come_back(N):
    """Sanity (can fail: a transposed or non-inverse transform would not
    undo the permutation): the CCA transform of a permuted copy is the
    permutation, so merging gives model 0 back within 1e-9, and the merged
    network computes model 0's function."""
    widths, models, feats, x = permuted_feats_and_models(N, seed=5 + N)
    doc = toy_nets.mlp_graph(widths)
    m = run_cca(doc, models, feats, N)
    merged = m.merge().to_numpy()
    assert_tensors(merged, models[0], tol=1e-9)
    out0 = toy_nets.mlp_forward(models[0], x)[0]
    outm = toy_nets.mlp_forward(merged, x)[0]
    assert float(np.abs(outm - out0).max()) <= 1e-9 * float(np.abs(out0).max())
    for i in range(1, N):
        M = m.matrix("fc1", i, "merge")
        assert np.abs(np.abs(M).round() - np.abs(M)).max() <= 1e-9  # a permutation
        np.testing.assert_allclose(np.abs(M).sum(axis=0), 1.0, atol=1e-9)


def test_unrelated_models_do_not_come_back():
    """The other side of the sanity check: two unrelated models do not merge
    into model 0 (the check above can fail)."""
    widths = [6, 12, 10, 4]
    rng = np.random.default_rng(1)
    models = [toy_nets.random_mlp(widths, s) for s in (1, 2)]
    x = rng.standard_normal((500, widths[0]))
    hidden = [toy_nets.mlp_forward(mm, x)[1] for mm in models]
    feats = {f"fc{k}": [hidden[i][k - 1] for i in range(2)] for k in (1, 2)}
    merged = run_cca(toy_nets.mlp_graph(widths), models, feats, 2).merge().to_numpy()
    assert float(np.abs(merged["fc1.weight"] - models[0]["fc1.weight"]).max()) > 0.1


def test_errors():
    doc = toy_nets.mlp_graph(WIDTHS)
    g = mudsc.Graph.from_json(json.dumps(doc))
    models = [toy_nets.random_mlp(WIDTHS, i) for i in range(2)]
    feats = synthetic_feats(doc, 2, seed=1)
    # no statistics
    m = mudsc.Matcher(g, models, method="cca")
    with pytest.raises(mudsc.StateError, match="needs activation"):
        m.run()
    # cross-block statistics serve align only
    cross = mudsc.Stats(g, 2, mode="cross")
    for name, fs in feats.items():
        for i, f in enumerate(fs):
            cross.update(name, i, f)
    with pytest.raises(mudsc.UnsupportedError, match="MUDSC_METHOD_CCA"):
        m.set_stats(cross)
    # a dead unit with no ridge: singular
    dead = {k: [f.copy() for f in fs] for k, fs in feats.items()}
    dead["fc1"][1][:, 3] = 2.0
    m = run_cca(doc, models, dead, 2, ridge=0.1)  # the ridge makes it regular
    with pytest.raises(mudsc.NumericError, match="model 1.*singular.*cca_ridge"):
        run_cca(doc, models, dead, 2, ridge=0.0)
    # a covariance that overflows
    huge = mudsc.Matcher(g, models, method="cca")
    for p in doc["points"]:
        huge.set_activation_similarity(p["name"], np.eye(2 * p["width"]) * 1e308)
    with pytest.raises(mudsc.NumericError, match="overflows"):
        huge.run()
    # dense results are not assignments
    with pytest.raises(mudsc.StateError, match="dense"):
        m.assignment(0)
    with pytest.raises(mudsc.StateError, match="dense"):
        m.permutation(0, 1)
    for bad in (-0.1, float("nan"), float("inf")):
        with pytest.raises(mudsc.InvalidArgumentError, match="cca_ridge"):
            mudsc.Matcher(g, models, method="cca", cca_ridge=bad)
    assert m.method == "cca"


def test_torch_merge_cca():
    torch = pytest.importorskip("torch")
    import nets
    import mudsc.torch  # noqa: F401
    torch.set_num_threads(1)
    torch.manual_seed(0)
    net = nets.MLP([6, 12, 10, 4]).double()
    g = mudsc.Graph.mlp([12, 10])
    sd = net.state_dict()
    other = nets.MLP([6, 12, 10, 4]).double()
    perm1, perm2 = torch.randperm(12), torch.randperm(10)
    psd = {k: v.clone() for k, v in sd.items()}
    psd["layers.0.weight"] = sd["layers.0.weight"][perm1]
    psd["layers.0.bias"] = sd["layers.0.bias"][perm1]
    psd["layers.1.weight"] = sd["layers.1.weight"][perm2][:, perm1]
    psd["layers.1.bias"] = sd["layers.1.bias"][perm2]
    psd["layers.2.weight"] = sd["layers.2.weight"][:, perm2]
    other.load_state_dict(psd)
    batches = [torch.randn(100, 6, dtype=torch.float64) for _ in range(3)]
    merged, result = mudsc.torch.merge([net, other], g, batches=batches, method="cca")
    assert result.permutations is None
    x = torch.randn(50, 6, dtype=torch.float64)
    with torch.no_grad():
        np.testing.assert_allclose(merged(x).numpy(), net(x).numpy(), rtol=0, atol=1e-8)
