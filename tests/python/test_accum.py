"""mudsc_accum against plain NumPy float64 (tests/oracle/accum_ref.py)."""
import struct

import numpy as np
import pytest

from accum_ref import bf16_bits, bf16_value, rows_of, stats
from mudsc import Accumulator, MudscError

# float blocks (F32/F16/BF16 input) go through ssyrk: float rounding of the
# shifted values and of the block sums; F64 input is double all the way.
TOL = {"f64": 1e-12, "f32": 2e-6, "f16": 2e-6, "bf16": 2e-6}


def assert_matches(acc, xs, tol, rel_cov=None):
    ref = stats(xs)
    np.testing.assert_allclose(acc.correlation(), ref["corr"], rtol=0, atol=tol)
    # float blocks round the shifted values: the means carry ~1e-7 of the spread
    np.testing.assert_allclose(acc.means(), ref["means"], rtol=1e-12,
                               atol=max(1e-12 * np.abs(ref["means"]).max(),
                                        tol * ref["std"].max()))
    scale = ref["std"].max() ** 2
    np.testing.assert_allclose(acc.covariance(), ref["cov"], rtol=0,
                               atol=(rel_cov or tol) * scale)
    np.testing.assert_allclose(acc.stddevs(), ref["std"], rtol=rel_cov or tol, atol=1e-15)


def correlated(rng, n, N, C, mean=0.0, scale=1.0):
    """N models' n x C features sharing a latent signal (so the
    cross-model correlations are far from 0)."""
    base = rng.standard_normal((n, C))
    return [mean + scale * (base[:, rng.permutation(C)] + 0.7 * rng.standard_normal((n, C)))
            for _ in range(N)]


def feed_interleaved(acc, xs, rng, lead, max_chunk=50, cast=lambda x: x, **kw):
    """Each model's rows in random chunk sizes, models in random order, no
    model more than `lead` observations ahead of the slowest."""
    pos = [0] * len(xs)
    n = xs[0].shape[0]
    while min(pos) < n:
        i = int(rng.integers(len(xs)))
        room = min(n, min(pos) + lead) - pos[i]
        if room <= 0:
            continue
        k = int(min(room, rng.integers(1, max_chunk + 1)))
        acc.update(i, cast(xs[i][pos[i]:pos[i] + k]), **kw)
        pos[i] += k


@pytest.mark.parametrize("dtype", ["f64", "f32", "f16", "bf16"])
def test_every_dtype_interleaved_chunks(dtype):
    rng = np.random.default_rng(1)
    xs = correlated(rng, 700, 3, 19, mean=2.0, scale=0.5)  # 19: vector blocks + tail
    if dtype == "f64":
        data, cast, kw = xs, lambda x: x, {}
    elif dtype == "f32":
        data = [x.astype(np.float32) for x in xs]
        cast, kw = np.ascontiguousarray, {}
    elif dtype == "f16":
        data = [x.astype(np.float16) for x in xs]
        cast, kw = np.ascontiguousarray, {}
    else:
        data = [bf16_bits(x) for x in xs]
        cast, kw = np.ascontiguousarray, {"dtype": "BF16"}
    with Accumulator(3, 19, block_rows=64, max_lead=200) as acc:
        feed_interleaved(acc, data, rng, 200, cast=cast, **kw)
        assert acc.count() == 700 and acc.count(1) == 700
        ref_in = [bf16_value(d) for d in data] if dtype == "bf16" else data
        assert_matches(acc, ref_in, TOL[dtype])


def test_nchw_features_on_axis_1():
    rng = np.random.default_rng(2)
    xs = [rng.standard_normal((3, 6, 4, 5)) + 1.0 for _ in range(2)]
    xs[1][:, :3] += 0.5 * xs[0][:, 3:]
    with Accumulator(2, 6, block_rows=16) as acc:
        for b in range(3):
            for i in range(2):
                acc.update(i, xs[i][b:b + 1], axis=1)
        assert acc.count() == 3 * 4 * 5
        assert_matches(acc, [rows_of(x, 1) for x in xs], 1e-12)


def test_tokens_on_the_last_axis_and_negative_axis():
    rng = np.random.default_rng(3)
    xs = [rng.standard_normal((4, 7, 3)).astype(np.float32) for _ in range(2)]
    with Accumulator(2, 3) as acc:
        acc.update(0, xs[0], axis=-1)
        acc.update(1, xs[1], axis=2)
        assert_matches(acc, [rows_of(x, -1) for x in xs], TOL["f32"])


def test_strided_views():
    rng = np.random.default_rng(4)
    big = rng.standard_normal((40, 12))
    x0 = big[::2, 1::3]                 # non-contiguous rows and columns
    x1 = big[::-2, ::-3][:20, :4]       # negative strides
    other = rng.standard_normal((4, 20)).T  # a transposed (Fortran-order) view
    with Accumulator(3, 4) as acc:
        acc.update(0, x0)
        acc.update(1, x1)
        acc.update(2, other)
        assert_matches(acc, [x0, x1, other], 1e-12)
    # features on axis 0 of a 2-D array: columns are observations
    cols = rng.standard_normal((4, 30))
    rows = rng.standard_normal((30, 4))
    with Accumulator(2, 4) as acc:
        acc.update(0, cols, axis=0)
        acc.update(1, rows, axis=1)
        assert_matches(acc, [cols.T, rows], 1e-12)


def test_chunk_larger_than_the_buffer_and_lead():
    rng = np.random.default_rng(5)
    xs = correlated(rng, 1000, 2, 3)
    with Accumulator(2, 3, block_rows=7, max_lead=30) as acc:
        acc.update(0, xs[0][:30])          # 30 ahead: allowed
        with pytest.raises(MudscError) as e:
            acc.update(0, xs[0][30:31])    # 31 ahead: refused, nothing consumed
        assert e.value.name == "MUDSC_E_STATE"
        assert acc.count(0) == 30
        # chunks of 60 > block_rows + max_lead: blocks are processed midway
        pos = [30, 0]
        while min(pos) < 1000:
            i = 1 if pos[1] <= pos[0] else 0
            acc.update(i, xs[i][pos[i]:pos[i] + 60])
            pos[i] = min(1000, pos[i] + 60)
        assert_matches(acc, xs, 1e-12)


def test_large_means_float32_stream():
    """Means 1e4 times the spread: the shifts keep float blocks exact enough."""
    rng = np.random.default_rng(6)
    xs = [x.astype(np.float32) for x in correlated(rng, 20000, 2, 8, mean=1e4, scale=1.0)]
    with Accumulator(2, 8) as acc:
        for s in range(0, 20000, 4096):
            for i in range(2):
                acc.update(i, xs[i][s:s + 4096])
        ref = stats(xs)
        assert np.abs(acc.correlation() - ref["corr"]).max() < 1e-6


def test_merge_equals_single_stream():
    rng = np.random.default_rng(7)
    xs = correlated(rng, 3000, 2, 6, mean=50.0, scale=3.0)
    cuts = [0, 1, 900, 2200, 3000]
    shards = []
    for a, b in zip(cuts, cuts[1:]):
        acc = Accumulator(2, 6, block_rows=128)
        for i in range(2):
            acc.update(i, xs[i][a:b])
        shards.append(acc)
    whole = Accumulator(2, 6, block_rows=128)
    for i in range(2):
        whole.update(i, xs[i])
    empty = Accumulator(2, 6)
    empty.merge(shards[0])            # into an empty accumulator: a copy
    for s in shards[1:]:
        empty.merge(s)
    empty.merge(Accumulator(2, 6))          # an empty source changes nothing
    assert empty.count() == 3000
    cw, cm = whole.covariance(), empty.covariance()
    assert np.abs(cm - cw).max() <= 1e-12 * np.abs(cw).max()
    assert np.abs(empty.means() - whole.means()).max() <= 1e-12 * 50
    assert np.abs(empty.correlation() - whole.correlation()).max() <= 1e-12
    assert_matches(empty, xs, 1e-12)
    # merging keeps the destination usable for more updates
    more = correlated(rng, 50, 2, 6, mean=50.0, scale=3.0)
    for i in range(2):
        empty.update(i, more[i])
    assert_matches(empty, [np.vstack([xs[i], more[i]]) for i in range(2)], 1e-12)
    with pytest.raises(MudscError) as e:
        empty.merge(Accumulator(3, 4))
    assert e.value.name == "MUDSC_E_MISMATCH"


def test_serialize_round_trip_and_continue():
    rng = np.random.default_rng(8)
    xs = correlated(rng, 500, 2, 4, mean=-3.0)
    acc = Accumulator(2, 4)
    for i in range(2):
        acc.update(i, xs[i][:300])
    data = acc.to_bytes()
    assert data[:8] == b"MUDSCACC"
    assert struct.unpack("<IIQQQ", data[8:40]) == (1, 0, 2, 4, 300)
    assert len(data) == 40 + 8 * (8 + 8 * 9 // 2) + 8
    means = np.frombuffer(data[40:40 + 64], dtype="<f8")
    np.testing.assert_allclose(means, stats([x[:300] for x in xs])["means"], rtol=1e-13)
    back = Accumulator.from_bytes(data)
    np.testing.assert_allclose(back.covariance(), acc.covariance(), rtol=1e-13, atol=1e-15)
    for i in range(2):
        back.update(i, xs[i][300:])
    assert_matches(back, xs, 1e-12)
    assert back.to_bytes() != data


@pytest.mark.parametrize("mutate,what", [
    (lambda b: b[:-1], "len"),
    (lambda b: b"X" + b[1:], "magic"),
    (lambda b: b[:8] + struct.pack("<I", 2) + b[12:], "version"),
    (lambda b: b[:16] + struct.pack("<Q", 1) + b[24:], "N"),
    (lambda b: b[:24] + struct.pack("<Q", 0) + b[32:], "C"),
    (lambda b: b[:50] + bytes([b[50] ^ 1]) + b[51:], "hash"),
])
def test_corrupt_serialized_bytes(mutate, what):
    rng = np.random.default_rng(9)
    acc = Accumulator(2, 3)
    for i in range(2):
        acc.update(i, rng.standard_normal((10, 3)))
    with pytest.raises(MudscError) as e:
        Accumulator.from_bytes(mutate(acc.to_bytes()))
    assert e.value.name == "MUDSC_E_PARSE"
    assert what in e.value.message


def test_nonfinite_error_names_model_chunk_position():
    x = np.ones((4, 2, 3))
    bad = x.copy()
    bad[3, 1, 2] = np.nan
    with Accumulator(2, 3) as acc:
        acc.update(1, x)
        with pytest.raises(MudscError) as e:
            acc.update(1, bad)
        assert e.value.name == "MUDSC_E_NUMERIC"
        assert "model 1" in e.value.message and "chunk 1" in e.value.message
        assert "(3, 1, 2)" in e.value.message
        assert acc.count(1) == 8


def test_nonfinite_zero_option():
    rng = np.random.default_rng(10)
    xs = [rng.standard_normal((60, 3)) for _ in range(2)]
    xs[0][5, 1] = np.inf
    xs[1][7, 0] = np.nan
    xs[1][50, 2] = -np.inf
    with Accumulator(2, 3, replace_nonfinite=True, block_rows=16) as acc:
        for i in range(2):
            acc.update(i, xs[i][:30])
            acc.update(i, xs[i][30:])
        assert_matches(acc, [np.nan_to_num(x, nan=0, posinf=0, neginf=0) for x in xs], 1e-12)


def test_mismatched_counts_and_more_updates_after_results():
    rng = np.random.default_rng(11)
    xs = correlated(rng, 40, 2, 3)
    with Accumulator(2, 3) as acc:
        acc.update(0, xs[0][:20])
        acc.update(1, xs[1][:19])
        with pytest.raises(MudscError) as e:
            acc.correlation()
        assert e.value.name == "MUDSC_E_MISMATCH"
        acc.update(1, xs[1][19:20])
        assert_matches(acc, [x[:20] for x in xs], 1e-12)
        for i in range(2):
            acc.update(i, xs[i][20:])
        assert_matches(acc, xs, 1e-12)


@pytest.mark.parametrize("dtype", ["f32", "f16", "bf16"])
def test_nchw_float_input(dtype):
    """Strided features, contiguous observations: the transposing route,
    runs cut by chunk ends and by the innermost axis."""
    rng = np.random.default_rng(12)
    xs = [rng.standard_normal((5, 11, 3, 7)) + 4.0 for _ in range(2)]
    xs[1][:, :5] += xs[0][:, 6:]
    if dtype == "bf16":
        data, kw = [bf16_bits(x) for x in xs], {"dtype": "BF16"}
        ref = [bf16_value(d) for d in data]
    else:
        cast = np.float32 if dtype == "f32" else np.float16
        data, kw = [x.astype(cast) for x in xs], {}
        ref = data
    with Accumulator(2, 11, block_rows=10, max_lead=40) as acc:
        for b in range(5):
            for i in range(2):
                acc.update(i, data[i][b:b + 1], axis=1, **kw)
        assert_matches(acc, [rows_of(r, 1) for r in ref], TOL[dtype])


def test_nchw_nonfinite_both_policies():
    rng = np.random.default_rng(13)
    xs = [rng.standard_normal((2, 4, 3, 5)).astype(np.float32) for _ in range(2)]
    xs[1][1, 2, 0, 3] = np.inf
    with Accumulator(2, 4) as acc:
        acc.update(0, xs[0], axis=1)
        with pytest.raises(MudscError) as e:
            acc.update(1, xs[1], axis=1)
        assert e.value.name == "MUDSC_E_NUMERIC"
        assert "(1, 2, 0, 3)" in e.value.message and "model 1, chunk 0" in e.value.message
    with Accumulator(2, 4, replace_nonfinite=True) as acc:
        for i in range(2):
            acc.update(i, xs[i], axis=1)
        clean = [np.nan_to_num(x, posinf=0.0) for x in xs]
        assert_matches(acc, [rows_of(x, 1) for x in clean], TOL["f32"])


def test_float_input_after_deserialize_and_merge():
    """Shifts loaded from bytes or copied by a merge are rounded to float
    (the float route's invariant) without changing the statistics."""
    rng = np.random.default_rng(14)
    xs = [x.astype(np.float32) for x in correlated(rng, 900, 2, 9, mean=1e3, scale=0.1)]
    a = Accumulator(2, 9)
    for i in range(2):
        a.update(i, xs[i][:300])
    b = Accumulator.from_bytes(a.to_bytes())
    for i in range(2):
        b.update(i, xs[i][300:600])
    c = Accumulator(2, 9)
    c.merge(b)
    for i in range(2):
        c.update(i, xs[i][600:])
    ref = stats(xs)
    assert np.abs(c.correlation() - ref["corr"]).max() < 2e-6
    np.testing.assert_allclose(c.means(), ref["means"], rtol=1e-9)


def test_constant_feature_round_trip():
    """A constant that float cannot hold: its variance rounds near 0 and
    must still serialize (stored clamped at 0) and give correlation 0."""
    x = np.full((100, 2), 0.1)
    x[:, 1] = np.arange(100.0)
    with Accumulator(2, 2) as acc:
        acc.update(0, x)
        acc.update(1, x[:, ::-1])
        back = Accumulator.from_bytes(acc.to_bytes())
        corr = back.correlation()
        assert abs(corr[0, 1]) < 1e-12 and abs(corr[0, 0]) < 1e-12
        assert abs(corr[1, 2] - 1.0) < 1e-12
