"""The least-squares correction of a layer whose units correspond by index
(mudsc.Lsq.layer, mudsc_lsq_layer_new, correct.h; docs/algorithm.md 23.4)
against the NumPy/SciPy oracle tests/oracle/lsq_ref.py, whose targets() with
the identity correspondence is the rule: the output layer of merged MLPs to
1e-6 (F64) and 1e-5 (F32), N = 2 and 3, chunked; a merged layer that already
fits its targets comes back; the error never rises; mudsc.torch.lsq_layer
on an nn.Sequential, with a transform of the targets, against the same
oracle; refusals."""
import numpy as np
import pytest

import lsq_ref as ref
import mudsc
from test_lsq import layer_io, matched
from test_repair import N_LAYERS, WIDTHS, random_mlp

LAST = f"layers.{N_LAYERS - 1}"
C = WIDTHS[-1]


def identity(n):
    return np.tile(np.arange(C), n)


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-6), (np.float32, 1e-5)])
def test_output_layer_equals_the_oracle(n, dtype, tol):
    models = [random_mlp(40 + 7 * n + i, dtype) for i in range(n)]
    mt = matched([{k: v.astype(np.float64) for k, v in m.items()} for m in models], "zip")
    weights = None if n == 2 else [0.5, 0.3, 0.2]
    merged = mt.merge(weights)
    if dtype == np.float32:
        merged = mudsc.Model.from_numpy({k: v.astype(np.float32) for k, v in merged.to_numpy().items()})
    x, _ = layer_io(merged.to_numpy(), N_LAYERS - 1)
    ys = [layer_io(m, N_LAYERS - 1)[1] for m in models]
    lsq = mudsc.Lsq.layer(merged, f"{LAST}.weight", f"{LAST}.bias", n, weights=weights)
    for part in np.array_split(np.arange(len(x)), 3):
        lsq.update(x[part], [y[part] for y in ys])
    assert lsq.rows == len(x)
    got = lsq.solve(merged, ridge=1e-3).to_numpy()
    t = ref.targets(identity(n), ys, C, weights)
    m = merged.to_numpy()
    w, b = ref.solve(x, t, m[f"{LAST}.weight"], m[f"{LAST}.bias"], 1e-3)
    scale = max(np.abs(w).max(), np.abs(b).max())
    assert np.abs(got[f"{LAST}.weight"] - w).max() <= tol * scale
    assert np.abs(got[f"{LAST}.bias"] - b).max() <= tol * scale
    for k in m:
        if not k.startswith(LAST):
            assert np.array_equal(got[k], m[k])
    assert lsq.error(merged) == pytest.approx(ref.error(x, t, m[f"{LAST}.weight"],
                                                        m[f"{LAST}.bias"]), rel=1e-9)
    assert lsq.error(mudsc.Model.from_numpy(got)) <= lsq.error(merged)
    assert lsq.error(mudsc.Model.from_numpy(got)) < 0.5 * lsq.error(merged)  # it does correct


def test_a_layer_that_fits_its_targets_comes_back():
    """Every source is the merged model itself: the targets are the merged
    layer's own outputs, so the solve (any ridge) returns the layer."""
    model = mudsc.Model.from_numpy(random_mlp(5))
    m = model.to_numpy()
    x, y = layer_io(m, N_LAYERS - 1)
    for ridge in (1e-8, 1e-2):  # ReLU inputs: some units may never fire, so not 0
        lsq = mudsc.Lsq.layer(model, f"{LAST}.weight", f"{LAST}.bias", 2)
        lsq.update(x, [y, y])
        got = lsq.solve(model, ridge=ridge).to_numpy()
        assert np.abs(got[f"{LAST}.weight"] - m[f"{LAST}.weight"]).max() < 1e-9
        assert np.abs(got[f"{LAST}.bias"] - m[f"{LAST}.bias"]).max() < 1e-9
        assert lsq.error(model) < 1e-20


def test_refusals():
    model = mudsc.Model.from_numpy(random_mlp(6))
    with pytest.raises(mudsc.InvalidArgumentError, match="mudsc_lsq_layer_new: n_models"):
        mudsc.Lsq.layer(model, f"{LAST}.weight", f"{LAST}.bias", 0)
    with pytest.raises(mudsc.NotFoundError, match="'nope.weight'"):
        mudsc.Lsq.layer(model, "nope.weight", f"{LAST}.bias", 2)
    with pytest.raises(mudsc.UnsupportedError, match="rank 1"):
        mudsc.Lsq.layer(model, "layers.0.bias", f"{LAST}.bias", 2)
    with pytest.raises(mudsc.MismatchError):
        mudsc.Lsq.layer(model, f"{LAST}.weight", "layers.0.bias", 2)
    with pytest.raises(mudsc.InvalidArgumentError, match="need 2 weights"):
        mudsc.Lsq.layer(model, f"{LAST}.weight", f"{LAST}.bias", 2, weights=[1.0])
    lsq = mudsc.Lsq.layer(model, f"{LAST}.weight", f"{LAST}.bias", 2)
    with pytest.raises(mudsc.StateError, match="layer 'layers.2.weight': no observations"):
        lsq.solve(model)


def test_torch_lsq_layer_with_a_transform():
    torch = pytest.importorskip("torch")
    import mudsc.torch as mt
    from torch import nn

    def net(seed):
        torch.manual_seed(seed)
        return nn.Sequential(nn.Linear(6, 10), nn.ReLU(), nn.Linear(10, 5)).double()

    nets = [net(1), net(2)]
    merged = net(3)
    xs = [torch.from_numpy(np.random.default_rng(s).standard_normal((50, 6))) for s in (1, 2)]

    def unit(rows):
        return rows / rows.norm(dim=1, keepdim=True)

    report = {}
    out = mt.lsq_layer(merged, nets, "2", xs, ridge=1e-2, transform=unit, report=report)
    x = torch.cat(xs)
    with torch.no_grad():
        h = merged[1](merged[0](x)).numpy()
        ys = [unit(n(x)).numpy() for n in nets]
    t = ref.targets(np.tile(np.arange(5), 2), ys, 5)
    sd = {k: v.numpy() for k, v in merged.state_dict().items()}
    w, b = ref.solve(h, t, sd["2.weight"], sd["2.bias"], 1e-2)
    got = out.state_dict()
    assert np.abs(got["2.weight"].numpy() - w).max() < 1e-9
    assert np.abs(got["2.bias"].numpy() - b).max() < 1e-9
    assert torch.equal(got["0.weight"], merged.state_dict()["0.weight"])
    assert report["rows"] == 100 and report["error_after"] < report["error_before"]
    with pytest.raises(mudsc.NotFoundError):
        mt.lsq_layer(merged, nets, "1", xs)  # the ReLU has no weight
