"""The least-squares correction (mudsc.Lsq, mudsc_lsq_*, correct.h) against
the NumPy/SciPy oracle tests/oracle/lsq_ref.py (docs/algorithm.md section
23): the corrected tensors to 1e-6 for align and zip, N = 2 and 3, layer by
layer (each layer's inputs from the merged net whose earlier layers are
corrected); a model merged with a permuted copy of itself is unchanged; the
correction strictly lowers each layer's output error; chunked streaming
equals one chunk; F32 models; the errors; mudsc.torch.lsq_correct on a
Linear/Conv2d net against the same oracle."""
import numpy as np
import pytest

import lsq_ref as ref
import mudsc
import repair_ref
from test_repair import N_LAYERS, WIDTHS, X, random_mlp  # the same random MLPs


def layer_io(tensors, k, x=X):
    """(input, pre-activation output) of layer k of a ReLU MLP."""
    h = np.asarray(x, np.float64)
    for j in range(k + 1):
        z = h @ np.asarray(tensors[f"layers.{j}.weight"], np.float64).T + \
            np.asarray(tensors[f"layers.{j}.bias"], np.float64)
        if j == k:
            return h, z
        h = np.maximum(z, 0.0)


def matched(models, method):
    g = mudsc.Graph.mlp(WIDTHS[1:-1], site="pre")
    stats = mudsc.Stats(g, len(models))
    for i, m in enumerate(models):
        _, pre = repair_ref.mlp_forward(m, X, N_LAYERS)
        for k, z in enumerate(pre):
            stats.update(k, i, z)
    mt = mudsc.Matcher(g, models, method=method, alpha=0.5)
    mt.set_stats(stats)
    mt.run()
    return mt


def correct_c(mt, models, merged, weights=None, ridge=None, chunks=1):
    """Layer by layer through the library; returns (model, errors before, after)."""
    current, before, after = merged, [], []
    for k, name in enumerate(mt.graph.point_names):
        x, _ = layer_io(current.to_numpy(), k)
        ys = [layer_io(m, k)[1] for m in models]
        lsq = mudsc.Lsq(mt, current, name, weights=weights)
        for part in np.array_split(np.arange(len(x)), chunks):
            lsq.update(x[part], [y[part] for y in ys])
        assert lsq.rows == len(x)
        new = lsq.solve(current, ridge=ridge)
        before.append(lsq.error(current))
        after.append(lsq.error(new))
        current = new
    return current, before, after


def correct_oracle(mt, models, merged, weights=None, ridge=1e-4):
    tensors = {k: np.asarray(v, np.float64) for k, v in merged.to_numpy().items()}
    for k, name in enumerate(mt.graph.point_names):
        x, _ = layer_io(tensors, k)
        ys = [layer_io(m, k)[1] for m in models]
        t = ref.targets(mt.assignment(name), ys, mt.point_result(name).merged_width, weights)
        tensors[f"{name}.weight"], tensors[f"{name}.bias"] = ref.solve(
            x, t, tensors[f"{name}.weight"], tensors[f"{name}.bias"], ridge)
    return tensors


@pytest.mark.parametrize("method", ["align", "zip"])
@pytest.mark.parametrize("n", [2, 3])
def test_lsq_equals_the_oracle(method, n):
    models = [random_mlp(10 * n + i) for i in range(n)]
    mt = matched(models, method)
    weights = None if n == 2 else [0.5, 0.3, 0.2]
    merged = mt.merge(weights)
    got, before, after = correct_c(mt, models, merged, weights)
    expect = correct_oracle(mt, models, merged, weights)
    g = got.to_numpy()
    assert list(g) == list(merged.to_numpy())
    for k, v in expect.items():
        np.testing.assert_allclose(g[k], v, rtol=1e-6, atol=1e-6, err_msg=k)
    # the second layer's merged error is real, and the correction strictly lowers it
    assert before[1] > 1e-3
    for b, a in zip(before, after):
        assert a <= b
    assert after[1] < 0.9 * before[1]
    # the library's error equals the oracle's on the data
    x, _ = layer_io(g, 1)
    t = ref.targets(mt.assignment(1), [layer_io(m, 1)[1] for m in models],
                    mt.point_result(1).merged_width, weights)
    assert after[1] == pytest.approx(ref.error(x, t, g["layers.1.weight"], g["layers.1.bias"]),
                                     rel=1e-6, abs=1e-12)


def test_ridge_zero_and_large():
    models = [random_mlp(i) for i in range(2)]
    mt = matched(models, "zip")
    merged = mt.merge()
    got, _, _ = correct_c(mt, models, merged, ridge=0.0)
    expect = correct_oracle(mt, models, merged, ridge=0.0)
    for k, v in expect.items():
        np.testing.assert_allclose(got.to_numpy()[k], v, rtol=1e-6, atol=1e-6, err_msg=k)
    # a huge ridge keeps the merged weights
    kept, _, _ = correct_c(mt, models, merged, ridge=1e12)
    for k, v in merged.to_numpy().items():
        np.testing.assert_allclose(kept.to_numpy()[k], v, rtol=1e-6, atol=1e-6, err_msg=k)


@pytest.mark.parametrize("n", [2, 3])
def test_a_model_merged_with_permuted_copies_of_itself_is_unchanged(n):
    base = random_mlp(7)
    rng = np.random.default_rng(3)
    models = [base]
    for _ in range(n - 1):
        m = dict(base)
        p0, p1 = rng.permutation(WIDTHS[1]), rng.permutation(WIDTHS[2])
        m["layers.0.weight"], m["layers.0.bias"] = base["layers.0.weight"][p0], base["layers.0.bias"][p0]
        m["layers.1.weight"] = base["layers.1.weight"][p1][:, p0]
        m["layers.1.bias"] = base["layers.1.bias"][p1]
        m["layers.2.weight"] = base["layers.2.weight"][:, p1]
        models.append(m)
    mt = matched(models, "align")
    merged = mt.merge()
    got, before, after = correct_c(mt, models, merged)
    for k, v in merged.to_numpy().items():
        np.testing.assert_allclose(got.to_numpy()[k], v, rtol=1e-8, atol=1e-8, err_msg=k)
    assert max(before) < 1e-12 and max(after) < 1e-12  # the trace form cancels to ~1e-15
    # and it is the base model up to its units' order (the merge found the permutation)
    np.testing.assert_allclose(np.sort(got.to_numpy()["layers.0.bias"]),
                               np.sort(base["layers.0.bias"]), rtol=1e-8)


def test_chunked_streaming_equals_one_chunk():
    models = [random_mlp(i + 20) for i in range(3)]
    mt = matched(models, "zip")
    merged = mt.merge()
    one, _, _ = correct_c(mt, models, merged, chunks=1)
    many, _, _ = correct_c(mt, models, merged, chunks=7)
    for k, v in one.to_numpy().items():
        np.testing.assert_allclose(many.to_numpy()[k], v, rtol=1e-12, atol=1e-12, err_msg=k)
    # strided views (features along axis 0) read the same values; F32 outputs round once
    lsq = mudsc.Lsq(mt, merged, "layers.0")
    x, _ = layer_io(merged.to_numpy(), 0)
    ys = [layer_io(m, 0)[1] for m in models]
    lsq.update(x.T, [y.T.astype(np.float32) for y in ys], axis=0)
    lsq2 = mudsc.Lsq(mt, merged, "layers.0")
    lsq2.update(x, ys)
    np.testing.assert_allclose(lsq.solve(merged).to_numpy()["layers.0.weight"],
                               lsq2.solve(merged).to_numpy()["layers.0.weight"], rtol=1e-5)


def test_f32_models():
    models = [random_mlp(i, np.float32) for i in range(2)]
    mt = matched(models, "align")
    merged = mt.merge()
    got, _, _ = correct_c(mt, models, merged)
    expect = correct_oracle(mt, models, merged)
    for k, v in got.to_numpy().items():
        assert v.dtype == np.float32
        np.testing.assert_allclose(v, expect[k], rtol=1e-5, atol=1e-5, err_msg=k)


def test_errors():
    models = [random_mlp(i) for i in range(2)]
    mt = matched(models, "align")
    merged = mt.merge()
    x, _ = layer_io(merged.to_numpy(), 1)
    ys = [layer_io(m, 1)[1] for m in models]
    with pytest.raises(mudsc.NotFoundError, match="mudsc_lsq_new: point 'nope'"):
        mudsc.Lsq(mt, merged, "nope")
    with pytest.raises(mudsc.InvalidArgumentError, match="total weight 0"):
        mudsc.Lsq(mt, merged, "layers.1", weights=[0.0, 0.0])
    lsq = mudsc.Lsq(mt, merged, "layers.1")
    with pytest.raises(mudsc.StateError, match="no observations"):
        lsq.solve(merged)
    with pytest.raises(mudsc.MismatchError, match=r"outputs\[1\] has 399 observations"):
        lsq.update(x, [ys[0], ys[1][:-1]])
    with pytest.raises(mudsc.ShapeError):
        lsq.update(x[:, :3], ys)
    bad = ys[1].copy()
    bad[5, 2] = np.nan
    with pytest.raises(mudsc.NumericError, match="mudsc_lsq_update: outputs: model 1"):
        lsq.update(x, [ys[0], bad])
    assert lsq.rows == 0  # nothing was kept
    lsq.update(x[:3], [y[:3] for y in ys])
    with pytest.raises(mudsc.NumericError, match="not positive definite"):
        lsq.solve(merged, ridge=0.0)
    with pytest.raises(mudsc.InvalidArgumentError, match="opts->ridge"):
        lsq.solve(merged, ridge=-1.0)
    other = mudsc.Model.from_numpy({k: (v[:-1] if k == "layers.1.bias" else v)
                                    for k, v in merged.to_numpy().items()})
    with pytest.raises(mudsc.MismatchError, match="shapes the handle was made for"):
        lsq.solve(other)
