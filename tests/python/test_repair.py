"""mudsc.repair (mudsc_repair, correct.h) against the NumPy oracle
tests/oracle/repair_ref.py (docs/algorithm.md section 17): merged tensors to
1e-12 (F64) and 1e-6 (F32) for align and zip, N = 2 and 3; REPAIR done
point by point makes every merged unit's statistics its targets, and a
second REPAIR of the repaired model changes nothing; the skip rules and
the error paths."""
import numpy as np
import pytest

import mudsc
import repair_ref as ref

WIDTHS = [6, 10, 8, 4]  # input, two hidden layers, output
N_LAYERS = len(WIDTHS) - 1


def random_mlp(seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return {name: rng.standard_normal(shape).astype(dtype)
            for k in range(N_LAYERS)
            for name, shape in ((f"layers.{k}.weight", (WIDTHS[k + 1], WIDTHS[k])),
                                (f"layers.{k}.bias", (WIDTHS[k + 1],)))}


def pre_graph():
    return mudsc.Graph.mlp(WIDTHS[1:-1], site="pre")


X = np.random.default_rng(99).standard_normal((400, WIDTHS[0]))


def source_stats(models):
    g = pre_graph()
    stats = mudsc.Stats(g, len(models))
    for i, m in enumerate(models):
        _, pre = ref.mlp_forward(m, X, N_LAYERS)
        for k, z in enumerate(pre):
            stats.update(k, i, z)
    return stats


def moments(model):
    _, pre = ref.mlp_forward(model.to_numpy() if hasattr(model, "to_numpy") else model, X,
                             N_LAYERS)
    return [(z.mean(axis=0), z.std(axis=0)) for z in pre]


def matched(models, method):
    g = pre_graph()
    stats = source_stats(models)
    m = mudsc.Matcher(g, models, method=method, alpha=0.5)
    m.set_stats(stats)
    m.run()
    return m, stats


def oracle(matcher, stats, merged, merged_stats, weights=None, min_std=1e-8):
    tensors = {k: np.asarray(v, np.float64) for k, v in merged.to_numpy().items()}
    n = matcher.n_models
    for q, name in enumerate(matcher.graph.point_names):
        if merged_stats[q] is None:
            continue
        acc = stats[name]
        mu, sd = ref.targets(matcher.assignment(name), acc.means(), acc.stddevs(), n,
                             matcher.point_result(name).merged_width, weights)
        s, t = ref.scale_shift(mu, sd, *merged_stats[q], min_std=min_std)
        tensors = ref.apply(tensors, [f"{name}.weight", f"{name}.bias"], f"{name}.bias", s, t)
    return tensors


@pytest.mark.parametrize("method", ["align", "zip"])
@pytest.mark.parametrize("n", [2, 3])
def test_repair_equals_the_oracle(method, n):
    models = [random_mlp(10 * n + i) for i in range(n)]
    matcher, stats = matched(models, method)
    weights = None if n == 2 else [0.5, 0.3, 0.2]
    merged = matcher.merge(weights)
    ms = moments(merged)
    out = mudsc.repair(matcher, merged, stats, ms, weights=weights)
    expect = oracle(matcher, stats, merged, ms, weights)
    got = out.to_numpy()
    assert list(got) == list(merged.to_numpy())
    for k, v in expect.items():
        np.testing.assert_allclose(got[k], v, rtol=1e-12, atol=1e-12, err_msg=k)
    # something changed: the test can fail
    assert not np.allclose(got["layers.0.weight"], merged.to_numpy()["layers.0.weight"])


def test_repair_f32_equals_the_oracle():
    models = [random_mlp(i, np.float32) for i in range(2)]
    matcher, stats = matched(models, "zip")
    merged = matcher.merge()
    ms = moments(merged)
    out = mudsc.repair(matcher, merged, stats, ms)
    expect = oracle(matcher, stats, merged, ms)
    for k, v in out.to_numpy().items():
        assert v.dtype == np.float32
        np.testing.assert_allclose(v, expect[k], rtol=1e-6, atol=1e-6, err_msg=k)


def repair_in_order(matcher, stats, merged, weights=None):
    """REPAIR point by point, each point's statistics measured on the model
    whose earlier points are corrected (docs/algorithm.md 14.3)."""
    current = merged
    names = matcher.graph.point_names
    for q, name in enumerate(names):
        ms = moments(current)
        current = mudsc.repair(matcher, current, stats, {name: ms[q]}, weights=weights)
    return current


@pytest.mark.parametrize("method", ["align", "zip"])
def test_repaired_units_have_their_targets_and_a_second_repair_changes_nothing(method):
    models = [random_mlp(i + 5) for i in range(3)]
    matcher, stats = matched(models, method)
    merged = matcher.merge()
    repaired = repair_in_order(matcher, stats, merged)
    ms = moments(repaired)
    for q, name in enumerate(matcher.graph.point_names):
        acc = stats[name]
        mu, sd = ref.targets(matcher.assignment(name), acc.means(), acc.stddevs(), 3,
                             matcher.point_result(name).merged_width)
        np.testing.assert_allclose(ms[q][0], mu, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(ms[q][1], sd, rtol=1e-9, atol=1e-9)
    again = mudsc.repair(matcher, repaired, stats, ms)
    for k, v in again.to_numpy().items():
        np.testing.assert_allclose(v, repaired.to_numpy()[k], rtol=1e-9, atol=1e-9, err_msg=k)
    # and the merge before REPAIR was not at its targets (the check can fail)
    before = moments(merged)
    acc = stats[matcher.graph.point_names[0]]
    mu, sd = ref.targets(matcher.assignment(0), acc.means(), acc.stddevs(), 3,
                         matcher.point_result(0).merged_width)
    assert not np.allclose(before[0][1], sd, rtol=1e-3)


def test_skipped_points_dead_units_and_no_producer():
    models = [random_mlp(i) for i in range(2)]
    matcher, stats = matched(models, "align")
    merged = matcher.merge()
    ms = moments(merged)
    # point 1 skipped: its tensors are merged's bytes
    out = mudsc.repair(matcher, merged, stats, [ms[0], None]).to_numpy()
    np.testing.assert_array_equal(out["layers.1.weight"], merged.to_numpy()["layers.1.weight"])
    np.testing.assert_array_equal(out["layers.1.bias"], merged.to_numpy()["layers.1.bias"])
    # a constant merged unit is shifted only (scale 1)
    mean, std = ms[0][0].copy(), ms[0][1].copy()
    std[3] = 0.0
    out = mudsc.repair(matcher, merged, stats, [(mean, std), None]).to_numpy()
    np.testing.assert_array_equal(out["layers.0.weight"][3], merged.to_numpy()["layers.0.weight"][3])
    # no bias: no producer rule fits, the point is left as merged (logged)
    nb = [{k: v for k, v in m.items() if not k.endswith("bias")} for m in models]
    g = mudsc.Graph.mlp(WIDTHS[1:-1], bias=False, site="pre")
    mt = mudsc.Matcher(g, nb)
    mt.run()
    logs = []
    mudsc.set_log_callback(lambda level, msg: logs.append(msg), "info")
    try:
        out = mudsc.repair(mt, mt.merge(), stats, ms)
    finally:
        mudsc.set_log_callback(None)
    assert any("mudsc_repair: point 'layers.0' has no single producer" in s for s in logs)
    np.testing.assert_array_equal(out.to_numpy()["layers.0.weight"],
                                  mt.merge().to_numpy()["layers.0.weight"])


def test_errors():
    models = [random_mlp(i) for i in range(2)]
    matcher, stats = matched(models, "align")
    merged = matcher.merge()
    ms = moments(merged)
    with pytest.raises(mudsc.InvalidArgumentError, match="n_points = 1 but graph has 2"):
        mudsc.repair(matcher, merged, stats, ms[:1])
    with pytest.raises(mudsc.MismatchError, match=r"merged_stats\[0\].width = 3"):
        mudsc.repair(matcher, merged, stats, [(ms[0][0][:3], ms[0][1][:3]), None])
    bad = ms[0][1].copy()
    bad[0] = -1.0
    with pytest.raises(mudsc.InvalidArgumentError, match="need finite, std >= 0"):
        mudsc.repair(matcher, merged, stats, [(ms[0][0], bad), None])
    with pytest.raises(mudsc.InvalidArgumentError, match="opts->min_std"):
        mudsc.repair(matcher, merged, stats, ms, min_std=-1.0)
    with pytest.raises(mudsc.InvalidArgumentError, match="need 2 weights"):
        mudsc.repair(matcher, merged, stats, ms, weights=[1.0])
    with pytest.raises(mudsc.InvalidArgumentError, match="total weight 0"):
        mudsc.repair(matcher, merged, stats, ms, weights=[0.0, 0.0])
    three = source_stats([random_mlp(i) for i in range(3)])
    with pytest.raises(mudsc.MismatchError, match="sources have 3 models, the matcher 2"):
        mudsc.repair(matcher, merged, three, ms)
    fresh = mudsc.Matcher(pre_graph(), models)
    with pytest.raises(mudsc.StateError, match="mudsc_repair: point 'layers.0'"):
        mudsc.repair(fresh, merged, stats, ms)
    with pytest.raises(mudsc.InvalidArgumentError, match="not int"):
        mudsc.repair(3, merged, stats, ms)


# ---- mudsc.repair_layer (mudsc_repair_layer, docs/algorithm.md 17.5) ----

OUT = f"layers.{N_LAYERS - 1}"  # the output layer: its units correspond by index


def output_moments(tensors):
    out, _ = ref.mlp_forward(tensors, X, N_LAYERS)
    return out.mean(axis=0), out.std(axis=0)


def repaired_hidden(models, method, weights=None):
    """The merge of models with its hidden points REPAIRed in order."""
    matcher, stats = matched(models, method)
    return repair_in_order(matcher, stats, matcher.merge(weights), weights)


@pytest.mark.parametrize("method", ["align", "zip"])
@pytest.mark.parametrize("n", [2, 3])
def test_repair_layer_equals_the_oracle(method, n):
    models = [random_mlp(40 + 10 * n + i) for i in range(n)]
    weights = None if n == 2 else [0.5, 0.3, 0.2]
    merged = repaired_hidden(models, method, weights)
    src = [output_moments(m) for m in models]
    ms = output_moments(merged.to_numpy())
    # weights summing to 2 (n = 3): the targets divide by their sum
    lw = None if n == 2 else [1.0, 0.6, 0.4]
    got = mudsc.repair_layer(merged, f"{OUT}.weight", f"{OUT}.bias", src, ms,
                             weights=lw).to_numpy()
    mu, sd = ref.layer_targets([s[0] for s in src], [s[1] for s in src], lw)
    s, t = ref.scale_shift(mu, sd, *ms)
    expect = ref.apply(merged.to_numpy(), [f"{OUT}.weight", f"{OUT}.bias"], f"{OUT}.bias", s, t)
    assert list(got) == list(merged.to_numpy())
    for k, v in expect.items():
        np.testing.assert_allclose(got[k], v, rtol=1e-12, atol=1e-12, err_msg=k)
    assert not np.allclose(got[f"{OUT}.weight"], merged.to_numpy()[f"{OUT}.weight"])
    # the other tensors are the merged model's bytes
    for k in got:
        if not k.startswith(OUT + "."):
            assert np.array_equal(got[k], merged.to_numpy()[k]), k


def test_repair_layer_f32_equals_the_oracle():
    models = [random_mlp(i, np.float32) for i in range(2)]
    matcher, _ = matched(models, "zip")
    merged = matcher.merge()
    src = [output_moments(m) for m in models]
    ms = output_moments(merged.to_numpy())
    got = mudsc.repair_layer(merged, f"{OUT}.weight", f"{OUT}.bias", src, ms).to_numpy()
    mu, sd = ref.layer_targets([s[0] for s in src], [s[1] for s in src])
    expect = ref.apply(merged.to_numpy(), [f"{OUT}.weight", f"{OUT}.bias"], f"{OUT}.bias",
                       *ref.scale_shift(mu, sd, *ms))
    for k, v in got.items():
        assert v.dtype == np.float32
        np.testing.assert_allclose(v, expect[k], rtol=1e-6, atol=1e-6, err_msg=k)


def test_repair_layer_gives_the_targets_and_a_second_call_changes_nothing():
    models = [random_mlp(70 + i) for i in range(2)]
    merged = repaired_hidden(models, "zip")
    src = [output_moments(m) for m in models]
    once = mudsc.repair_layer(merged, f"{OUT}.weight", f"{OUT}.bias", src,
                              output_moments(merged.to_numpy()))
    mean, std = output_moments(once.to_numpy())
    mu, sd = ref.layer_targets([s[0] for s in src], [s[1] for s in src])
    np.testing.assert_allclose(mean, mu, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(std, sd, rtol=1e-9, atol=1e-9)
    again = mudsc.repair_layer(once, f"{OUT}.weight", f"{OUT}.bias", src,
                               output_moments(once.to_numpy()))
    for k, v in again.to_numpy().items():
        np.testing.assert_allclose(v, once.to_numpy()[k], rtol=1e-9, atol=1e-9, err_msg=k)


def test_repair_layer_of_identical_models_changes_nothing():
    m = random_mlp(5)
    merged = mudsc.Model.from_numpy(m, copy=True)
    st = output_moments(m)
    got = mudsc.repair_layer(merged, f"{OUT}.weight", f"{OUT}.bias", [st, st, st], st)
    for k, v in got.to_numpy().items():
        np.testing.assert_allclose(v, m[k], rtol=1e-12, atol=1e-12, err_msg=k)


def test_repair_layer_min_std_keeps_a_constant_unit_scale():
    m = random_mlp(6)
    merged = mudsc.Model.from_numpy(m, copy=True)
    width = m[f"{OUT}.bias"].size
    src = [(np.full(width, 2.0), np.full(width, 3.0))] * 2
    ms = (np.zeros(width), np.zeros(width))  # constant: shifted only
    got = mudsc.repair_layer(merged, f"{OUT}.weight", f"{OUT}.bias", src, ms).to_numpy()
    np.testing.assert_array_equal(got[f"{OUT}.weight"], m[f"{OUT}.weight"])
    np.testing.assert_allclose(got[f"{OUT}.bias"], m[f"{OUT}.bias"] + 2.0, rtol=1e-15)


def test_repair_layer_errors():
    m = mudsc.Model.from_numpy(random_mlp(7), copy=True)
    width = m[f"{OUT}.bias"].size
    st = (np.zeros(width), np.ones(width))
    with pytest.raises(mudsc.NotFoundError, match="'nope'"):
        mudsc.repair_layer(m, "nope", f"{OUT}.bias", [st, st], st)
    with pytest.raises(mudsc.MismatchError, match=r"merged_stats\[0\].width = 1"):
        mudsc.repair_layer(m, f"{OUT}.weight", f"{OUT}.bias", [st, st], (np.zeros(1), np.ones(1)))
    with pytest.raises(mudsc.InvalidArgumentError, match="need 2 weights"):
        mudsc.repair_layer(m, f"{OUT}.weight", f"{OUT}.bias", [st, st], st, weights=[1.0])
