"""mudsc.Accumulator: statistics equal NumPy's (np.corrcoef, np.cov with
ddof=0, means, population standard deviations) for every input dtype and
layout; strided views go to the library without a copy (the address and
element strides the library receives are the view's); merging,
serialisation and the error paths."""

import numpy as np
import pytest

import mudsc
from mudsc import _lib


def stacked(xs):
    """(n, N*C) observations of N models' (n, C) features."""
    return np.concatenate(xs, axis=1)


def features(n=200, C=3, N=2, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((n, C))
    return [base + 0.5 * rng.standard_normal((n, C)) + 3.0 * i for i in range(N)]


def test_statistics_equal_numpy():
    xs = features(N=3)
    with mudsc.Accumulator(3, 3) as a:
        for i, x in enumerate(xs):
            a.update(i, x)
        Z = stacked(xs)
        np.testing.assert_allclose(a.correlation(), np.corrcoef(Z.T), atol=1e-12)
        np.testing.assert_allclose(a.covariance(), np.cov(Z.T, ddof=0), atol=1e-12)
        np.testing.assert_allclose(a.means(), Z.mean(axis=0), atol=1e-12)
        np.testing.assert_allclose(a.stddevs(), Z.std(axis=0), atol=1e-12)
        assert (a.n_models, a.width, a.count(), a.count(1)) == (3, 3, 200, 200)
        assert "3 models" in repr(a)


def spy_update(monkeypatch):
    """Record (data address, element strides, shape, axis) of every update."""
    seen = []
    real = _lib.lib.mudsc_accum_update

    def spy(handle, model, fptr):
        f = fptr._obj
        seen.append((f.data, [f.strides[d] for d in range(f.rank)], list(f.shape[:f.rank]),
                     f.feature_axis))
        return real(handle, model, fptr)
    monkeypatch.setattr(_lib.lib, "mudsc_accum_update", spy)
    return seen


def test_strided_views_are_read_in_place(monkeypatch):
    rng = np.random.default_rng(1)
    big = [rng.standard_normal((300, 8)) for _ in range(2)]
    views = [b[::3, 1::2] for b in big]  # (100, 4), non-contiguous both ways
    seen = spy_update(monkeypatch)
    a = mudsc.Accumulator(2, 4)
    for i, v in enumerate(views):
        a.update(i, v)
    for (data, strides, shape, axis), v in zip(seen, views):
        assert data == v.ctypes.data                       # no copy was made
        assert strides == [s // 8 for s in v.strides] == [24, 2]
        assert shape == [100, 4] and axis == -1
    np.testing.assert_allclose(a.correlation(), np.corrcoef(stacked(views).T), atol=1e-12)


def test_nchw_features_transposed_and_negative_strides(monkeypatch):
    rng = np.random.default_rng(2)
    maps = [rng.standard_normal((4, 5, 3, 3)).astype(np.float32) for _ in range(2)]
    flipped = [m[:, :, ::-1, :] for m in maps]  # negative stride
    seen = spy_update(monkeypatch)
    a = mudsc.Accumulator(2, 5)
    for i, m in enumerate(flipped):
        a.update(i, m, axis=1)
    assert seen[0][0] == flipped[0].ctypes.data and seen[0][1][2] < 0
    rows = [m.transpose(0, 2, 3, 1).reshape(-1, 5).astype(np.float64) for m in flipped]
    np.testing.assert_allclose(a.correlation(), np.corrcoef(stacked(rows).T), atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, "bf16"])
def test_low_precision_inputs(dtype):
    xs = features(n=400, C=2, seed=3)
    a = mudsc.Accumulator(2, 2)
    used = []
    for i, x in enumerate(xs):
        if dtype == "bf16":
            bits = (x.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
            a.update(i, bits, dtype="BF16")
            used.append((bits.astype(np.uint32) << 16).view(np.float32).astype(np.float64))
        else:
            arr = x.astype(dtype)
            a.update(i, arr)
            used.append(arr.astype(np.float64))
    np.testing.assert_allclose(a.correlation(), np.corrcoef(stacked(used).T), atol=1e-6)


def test_interleaved_chunks_merge_and_bytes():
    xs = features(n=300, seed=4)
    one, first, second = (mudsc.Accumulator(2, 3) for _ in range(3))
    for start in range(0, 300, 70):  # uneven chunks, models interleaved
        for i in (1, 0):
            one.update(i, xs[i][start:start + 70])
    for i in range(2):
        first.update(i, xs[i][:120])
        second.update(i, xs[i][120:])
    first.merge(second)
    np.testing.assert_allclose(first.correlation(), one.correlation(), atol=1e-12)
    data = one.to_bytes()
    assert data[:8] == b"MUDSCACC"
    back = mudsc.Accumulator.from_bytes(data)
    np.testing.assert_allclose(back.correlation(), one.correlation(), atol=1e-14)
    back.update(0, xs[0][:10])  # accepts further updates
    assert back.count(0) == 310 and back.count() == 300
    with pytest.raises(mudsc.MismatchError):
        back.correlation()
    with pytest.raises(mudsc.ParseError, match="hash"):
        mudsc.Accumulator.from_bytes(data[:-1] + bytes([data[-1] ^ 1]))


def test_nonfinite_policy_and_errors():
    x = np.array([[1.0, np.nan], [2.0, 1.0], [0.5, 3.0]])
    a = mudsc.Accumulator(2, 2)
    with pytest.raises(mudsc.NumericError, match="model 0"):
        a.update(0, x)
    assert a.count(0) == 0  # nothing consumed on error
    z = mudsc.Accumulator(2, 2, replace_nonfinite=True)
    z.update(0, x)
    z.update(1, np.nan_to_num(x))
    np.testing.assert_allclose(z.means()[:2], np.nan_to_num(x).mean(axis=0))
    with pytest.raises(mudsc.StateError):
        mudsc.Accumulator(2, 2).correlation()
    with pytest.raises(mudsc.ShapeError):
        a.update(0, np.zeros((3, 5)))
    with pytest.raises(mudsc.ShapeError):
        a.update(0, np.float64(1.0))
    with pytest.raises(mudsc.RangeError):
        a.update(2, np.zeros((3, 2)))
    with pytest.raises(mudsc.InvalidArgumentError, match="F16, BF16"):
        a.update(0, np.zeros((3, 2), np.int32))
    with pytest.raises(mudsc.InvalidArgumentError):
        a.update(0, np.zeros((3, 2), np.float32), dtype="BF16")
    lead = mudsc.Accumulator(2, 2, max_lead=4, block_rows=2)
    with pytest.raises(mudsc.StateError):
        lead.update(0, np.zeros((5, 2)))
    with pytest.raises(mudsc.InvalidArgumentError):
        mudsc.Accumulator(2, 0)
    with pytest.raises(mudsc.MismatchError):
        mudsc.Accumulator(2, 2).merge(mudsc.Accumulator(3, 2))
    a.close()
    with pytest.raises(mudsc.StateError, match="closed"):
        a.count()


def test_byte_strides_that_are_not_element_multiples_are_copied():
    raw = np.zeros(4 * 8 + 4, dtype=np.uint8)
    odd = np.ndarray((4, 2), dtype=np.float32, buffer=raw, offset=1, strides=(9, 4))
    odd[...] = np.arange(8, dtype=np.float32).reshape(4, 2)
    a = mudsc.Accumulator(2, 1)
    a.update(0, odd[:, :1])
    a.update(1, odd[:, 1:])
    np.testing.assert_allclose(a.means(), [3.0, 4.0])
