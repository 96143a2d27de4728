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
