"""mudsc.Stats (mudsc_stats): sharded accumulation merged in any order
against NumPy and the single stream, the file round trip bit-exact, the
per-point views, the matcher in one call, errors, and collect_activations
returning a Stats."""
import itertools

import numpy as np
import pytest

import mudsc


def graph():
    g = mudsc.Graph()
    g.add_point("a", 5)
    g.add_point("b", 3)
    return g


WIDTHS = {"a": 5, "b": 3}
N = 3


def data(n=900, seed=1, dtype=np.float64):
    """point -> (N, n, C) features, means far from 0, correlated."""
    rng = np.random.default_rng(seed)
    out = {}
    for p, C in WIDTHS.items():
        common = rng.standard_normal((n, 1))
        x = rng.standard_normal((N, n, C)) + 0.7 * common + 1e3 * np.arange(1, C + 1)
        out[p] = x.astype(dtype)
    return out


def fed(g, d, lo, hi):
    s = mudsc.Stats(g, N)
    for p in WIDTHS:
        for i in range(N):
            s.update(p, i, d[p][i, lo:hi])
    return s


def numpy_stats(x):
    """(means, population covariance, correlation) of the stacked features."""
    z = np.concatenate(list(x), axis=1)
    mu = z.mean(axis=0)
    cov = (z - mu).T @ (z - mu) / z.shape[0]
    sd = np.sqrt(np.diag(cov))
    return mu, cov, cov / np.maximum(np.outer(sd, sd), 1e-7)


def rel(a, b, floor):
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), floor)))


CUTS = [0, 1, 250, 251, 700, 900]


@pytest.mark.parametrize("order", [list(o) for o in
                                   itertools.islice(itertools.permutations(range(5)), 0, 120, 17)])
def test_sharded_any_order_equals_numpy_and_single_stream(order):
    g, d = graph(), data()
    one = fed(g, d, 0, 900)
    shards = [fed(g, d, CUTS[k], CUTS[k + 1]) for k in range(5)]
    dst = shards[order[0]]
    for k in order[1:]:
        dst.merge(shards[k])
    for p in WIDTHS:
        mu, cov, corr = numpy_stats(d[p])
        acc = dst.point(p)
        assert acc.count() == 900
        assert rel(acc.means(), mu, 1.0) < 1e-12
        assert rel(acc.covariance(), cov, 0.1) < 1e-12
        assert rel(acc.correlation(), corr, 1e-3) < 1e-12
        assert rel(acc.correlation(), one.point(p).correlation(), 1e-3) < 1e-12


def bf16_bits(x):
    """float64 -> bfloat16 bits (uint16), rounded to nearest even, and the
    values those bits hold, as float64."""
    u = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    bits = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    return bits, (bits.astype(np.uint32) << 16).view(np.float32).astype(np.float64)


def low_precision(dtype):
    """point -> (fed to the library, the same values in float64)."""
    if dtype != "BF16":
        d = data(dtype=dtype)
        return d, {p: x.astype(np.float64) for p, x in d.items()}
    # bfloat16 keeps 8 bits: means of 1e3 would leave no spread to correlate
    rng = np.random.default_rng(2)
    fed_, exact = {}, {}
    for p, C in WIDTHS.items():
        x = rng.standard_normal((N, 900, C)) + 0.7 * rng.standard_normal((900, 1)) \
            + 4.0 * np.arange(1, C + 1)
        fed_[p], exact[p] = bf16_bits(x)
    return fed_, exact


def fed_as(g, d, lo, hi, dtype):
    s = mudsc.Stats(g, N)
    for p in WIDTHS:
        for i in range(N):
            s.update(p, i, d[p][i, lo:hi], dtype="BF16" if dtype == "BF16" else None)
    return s


@pytest.mark.parametrize("dtype", [np.float32, np.float16, "BF16"])
def test_sharded_low_precision_within_the_accumulator_bound(dtype):
    g = graph()
    d, exact = low_precision(dtype)
    one = fed_as(g, d, 0, 900, dtype)
    dst = fed_as(g, d, 700, 900, dtype)
    for k in (2, 0, 3, 1):
        dst.merge(fed_as(g, d, CUTS[k], CUTS[k + 1], dtype))
    for p in WIDTHS:
        _, _, corr = numpy_stats(exact[p])
        # the accumulator's documented bound for float rows (docs/algorithm.md,
        # section 12: R within 2e-6 absolute of float64 NumPy on the same
        # rounded inputs) holds for the shards merged as for the single stream
        assert np.max(np.abs(dst.point(p).correlation() - corr)) < 2e-6
        assert np.max(np.abs(one.point(p).correlation() - corr)) < 2e-6


def test_bytes_like_another_set_and_replace():
    g, d = graph(), data()
    s, t = fed(g, d, 0, 400), fed(g, d, 400, 900)
    raw = s.to_bytes()
    u = mudsc.Stats.from_bytes_like(raw, t)
    assert u.to_bytes() == raw
    t.replace_bytes(raw)
    assert t.to_bytes() == raw
    other = mudsc.Graph()
    other.add_point("a", 5)
    other.add_point("b", 4)
    wrong = mudsc.Stats(other, N)
    with pytest.raises(mudsc.MismatchError, match="width"):
        mudsc.Stats.from_bytes_like(raw, wrong)
    before = wrong.to_bytes()
    with pytest.raises(mudsc.MismatchError):
        wrong.replace_bytes(raw)
    assert wrong.to_bytes() == before


def test_file_round_trip_bit_exact(tmp_path):
    g, d = graph(), data()
    s = fed(g, d, 0, 400)
    raw = s.to_bytes()
    t = mudsc.Stats.from_bytes(raw, g)
    assert t.to_bytes() == raw
    path = tmp_path / "calib.stats"
    t.save(path)
    assert path.read_bytes() == raw
    u = mudsc.Stats.load(path, g, n_models=N)
    assert u.to_bytes() == raw
    for p in WIDTHS:
        assert np.array_equal(u.point(p).correlation(), s.point(p).correlation())
    # a loaded set streams on like the original
    for x in (s, u):
        for p in WIDTHS:
            for i in range(N):
                x.update(p, i, d[p][i, 400:])
    assert u.to_bytes() == s.to_bytes()
    # a safetensors file any reader understands: the raw sums and metadata
    m = mudsc.Model.load(path)
    assert m.metadata["format"] == "mudsc.stats"
    assert m.metadata["n_models"] == str(N)
    assert m.metadata["point.0.name"] == "a"
    nc = N * 5
    assert sorted(m.to_numpy())[:4] == ["a.count", "a.prod", "a.shift", "a.sum"]
    assert m.to_numpy()["a.prod"].shape == (nc * (nc + 1) // 2,)
    raw_bytes = sum(8 * (2 * N * C + (N * C) * (N * C + 1) // 2 + N) for C in WIDTHS.values())
    assert raw_bytes < len(raw) < raw_bytes + 2048


def test_mapping_and_views():
    g, d = graph(), data(60)
    s = fed(g, d, 0, 60)
    assert list(s) == ["a", "b"] and len(s) == 2 and "a" in s and "z" not in s
    assert s.n_models == N and s.width("b") == 3 and s.point_names == ["a", "b"]
    acc = s["b"]
    assert isinstance(acc, mudsc.Accumulator) and acc.width == 3 and acc.count() == 60
    with pytest.raises(KeyError):
        s["z"]
    del s  # the view keeps the set alive
    assert acc.means().shape == (9,)
    # one point's accumulator bytes as before
    assert mudsc.Accumulator.from_bytes(acc.to_bytes()).count() == 60


def test_errors():
    g = graph()
    with pytest.raises(mudsc.InvalidArgumentError, match="n_models = 1"):
        mudsc.Stats(g, 1)
    s = mudsc.Stats(g, N)
    with pytest.raises(mudsc.NotFoundError, match="no point 'q'"):
        s.update("q", 0, np.zeros((2, 5)))
    with pytest.raises(mudsc.ShapeError, match="point 1 'b'"):
        s.update(1, 0, np.zeros((2, 5)))
    with pytest.raises(mudsc.MismatchError, match="N = 3 models, src 2"):
        s.merge(mudsc.Stats(g, 2))
    raw = s.to_bytes()
    other = mudsc.Graph()
    other.add_point("a", 5)
    other.add_point("b", 4)
    with pytest.raises(mudsc.MismatchError, match="point 1 'b' has width 3 in the set, 4"):
        mudsc.Stats.from_bytes(raw, other)
    with pytest.raises(mudsc.MismatchError, match="argument 'n_models' = 2"):
        mudsc.Stats.from_bytes(raw, g, n_models=2)
    with pytest.raises(mudsc.ParseError, match="argument 'buf'"):
        mudsc.Stats.from_bytes(raw[:-3], g)
    s.update("a", 0, np.zeros((2, 5)))
    with pytest.raises(mudsc.MismatchError, match="point 0 'a'"):
        s.to_bytes()


def test_merge_with_stats_in_one_call():
    rng = np.random.default_rng(3)
    g = mudsc.Graph.mlp([6, 4])
    states = [{"layers.0.weight": rng.standard_normal((6, 5)),
               "layers.0.bias": rng.standard_normal(6),
               "layers.1.weight": rng.standard_normal((4, 6)),
               "layers.1.bias": rng.standard_normal(4),
               "layers.2.weight": rng.standard_normal((3, 4)),
               "layers.2.bias": rng.standard_normal(3)} for _ in range(2)]
    s = mudsc.Stats(g, 2)
    for p in s:
        for i in range(2):
            s.update(p, i, rng.standard_normal((80, s.width(p))))
    by_set = mudsc.merge(states, g, activations=s)
    by_point = mudsc.merge(states, g, activations={p: s[p] for p in s})
    for k, v in by_set.tensors.items():
        assert np.array_equal(v, by_point.tensors[k])
