"""mudsc.average against NumPy: every float dtype (F16, BF16, F32, F64)
is the weighted sum in float64, in model order, rounded once (NumPy's
float64 -> float16/float32 casts, and a bfloat16 rounding written here from
the definition); non-float tensors from model 0; in place into a model that
is one of the inputs; each mismatch raises its error; aligned through a
Graph or a Matcher."""
import numpy as np
import pytest

import mudsc


def bf16_bits_from_f64(v):
    """float64 -> bfloat16 bits, round to nearest even, one rounding
    (normal numbers): the 8-bit significand of frexp rounded by np.rint."""
    m, e = np.frexp(np.asarray(v, dtype=np.float64))
    r = np.ldexp(np.rint(np.ldexp(m, 8)), e - 8)
    return (r.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)


def bf16_to_f64(bits):
    return (np.asarray(bits, dtype=np.uint32) << 16).view(np.float32).astype(np.float64)


W = [0.5, 0.3, 0.2]


def _expected(xs64, w):
    acc = w[0] * xs64[0]
    for wi, x in zip(w[1:], xs64[1:]):
        acc = acc + wi * x
    return acc


@pytest.mark.parametrize("dtype", ["F16", "BF16", "F32", "F64"])
@pytest.mark.parametrize("weights", [None, W])
def test_dtypes_against_numpy(dtype, weights):
    rng = np.random.default_rng(5)
    n = 4099
    raw = [rng.normal(size=n) * 10 for _ in range(3)]
    if dtype == "BF16":
        arrays = [bf16_bits_from_f64(r) for r in raw]
        values = [bf16_to_f64(a) for a in arrays]
    else:
        t = {"F16": np.float16, "F32": np.float32, "F64": np.float64}[dtype]
        arrays = [r.astype(t) for r in raw]
        values = [a.astype(np.float64) for a in arrays]
    models = []
    for a in arrays:
        m = mudsc.Model()
        m.add("x", a, dtype=dtype if dtype == "BF16" else None)
        m.add("steps", np.array([len(models) + 1], dtype=np.int64))
        models.append(m)
    out = mudsc.average(models, weights=weights)
    w = weights if weights is not None else [1 / 3] * 3
    exp = _expected(values, w)
    if dtype == "BF16":
        np.testing.assert_array_equal(out.bits("x"), bf16_bits_from_f64(exp))
    else:
        np.testing.assert_array_equal(out["x"], exp.astype(arrays[0].dtype))
    assert out["steps"][0] == 1  # non-float: model 0's


def test_in_place_alias_and_errors():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.ones((2, 3), dtype=np.float32)
    ma, mb = mudsc.Model.from_numpy({"t": a}), mudsc.Model.from_numpy({"t": b})
    mudsc.average([ma, mb], out=ma)
    np.testing.assert_array_equal(a, (np.arange(6).reshape(2, 3) + 1) / 2)
    with pytest.raises(mudsc.ShapeError):
        mudsc.average([ma, {"t": np.ones((3, 2), np.float32)}])
    with pytest.raises(mudsc.MismatchError):
        mudsc.average([ma, {"t": np.ones((2, 3), np.float64)}])
    with pytest.raises(mudsc.NotFoundError):
        mudsc.average([ma, {"u": np.ones((2, 3), np.float32)}])
    with pytest.raises(mudsc.MismatchError):
        mudsc.average([ma, {"t": b, "u": b}])
    with pytest.raises(mudsc.InvalidArgumentError, match="weights sum to 2"):
        mudsc.average([ma, mb], weights=[1, 1])
    with pytest.raises(mudsc.InvalidArgumentError, match="not finite"):
        mudsc.average([ma, mb], weights=[np.nan, 1])
    with pytest.raises(mudsc.InvalidArgumentError, match="need 2 weights"):
        mudsc.average([ma, mb], weights=[1.0])
    before = a.copy()
    with pytest.raises(mudsc.ShapeError):
        mudsc.average([mb, {"t": np.ones((3, 2), np.float32)}], out=ma)
    np.testing.assert_array_equal(a, before)  # untouched
    ma.freeze()
    with pytest.raises(mudsc.StateError):
        mudsc.average([ma, mb], out=ma)


def test_aligned_through_graph_and_matcher():
    rng = np.random.default_rng(2)
    w0, b0 = rng.normal(size=(5, 4)).astype(np.float32), rng.normal(size=5).astype(np.float32)
    w1, b1 = rng.normal(size=(3, 5)).astype(np.float32), rng.normal(size=3).astype(np.float32)
    perm = np.array([2, 4, 0, 1, 3])
    a = {"layers.0.weight": w0, "layers.0.bias": b0, "layers.1.weight": w1,
         "layers.1.bias": b1}
    b = {"layers.0.weight": w0[perm], "layers.0.bias": b0[perm],
         "layers.1.weight": w1[:, perm], "layers.1.bias": b1}
    g = mudsc.Graph.mlp([5])
    out = mudsc.average([a, b], align=g)
    for k, v in a.items():
        np.testing.assert_array_equal(out[k], v)
    m = mudsc.Matcher(g, [a, b])
    m.run()
    out = mudsc.average([], align=m, weights=[0.25, 0.75])
    for k, v in a.items():
        np.testing.assert_array_equal(out[k], v)
