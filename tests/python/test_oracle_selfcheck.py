"""Self-checks of the NumPy/SciPy oracle (tests/oracle) against closed forms,
hand-worked examples and independent facts.  The C library is not involved:
these tests establish that the oracle can be trusted to produce expected
numbers for the C tests.

Run: cd /work/main && /usr/bin/python3 -m pytest -q tests/python/test_oracle_selfcheck.py
"""
import itertools
import json
import struct

import numpy as np
import pytest

import mudsc_ref as M
import safetensors_np as st
import toy_nets as T


# ---------------------------------------------------------------------------
# Similarities
# ---------------------------------------------------------------------------

def _correlated_features(N, n, C, seed, offset=0.0):
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((n, C))
    return [base @ rng.standard_normal((C, C)) + rng.standard_normal((n, C)) + 3.0 * i + offset
            for i in range(N)]


def test_activation_similarity_equals_corrcoef():
    xs = _correlated_features(3, 400, 5, seed=0)
    S = M.activation_similarity(xs)
    ref = np.corrcoef(np.hstack(xs), rowvar=False)
    assert S.shape == (15, 15)
    np.testing.assert_allclose(S, ref, rtol=0, atol=1e-12)
    assert np.array_equal(S, S.T)


def test_activation_similarity_stable_for_large_means():
    # Shifting every feature by 1e6 changes nothing in exact arithmetic; the
    # centred computation keeps the error at the data's own rounding level.
    xs = _correlated_features(2, 500, 4, seed=1)
    shifted = [x + 1e6 for x in xs]
    np.testing.assert_allclose(M.activation_similarity(shifted),
                               np.corrcoef(np.hstack(xs), rowvar=False), rtol=0, atol=1e-8)


def test_constant_feature_gives_zero_row_by_eps_rule():
    xs = _correlated_features(2, 64, 3, seed=2)
    xs[1][:, 2] = 2.0      # mean exactly 2 -> centred exactly 0 -> Sigma row 0
    S = M.activation_similarity(xs)
    assert np.all(S[5] == 0.0) and np.all(S[:, 5] == 0.0)   # diagonal too: 0 / eps


def test_cosine_closed_form():
    rng = np.random.default_rng(3)
    z = rng.standard_normal(7)
    Z = np.vstack([z, 3.0 * z, -0.5 * z])
    np.testing.assert_allclose(M.similarity(Z, "cosine"),
                               [[1, 1, -1], [1, 1, -1], [-1, -1, 1]], rtol=0, atol=1e-14)
    # Pearson of a row with an affine image of itself is +-1 too.
    np.testing.assert_allclose(M.similarity(np.vstack([z, 2 * z + 5, 1 - z]))[0], [1, 1, -1],
                               rtol=0, atol=1e-14)


# ---------------------------------------------------------------------------
# Random order
# ---------------------------------------------------------------------------

def test_splitmix64_reference_values():
    g = M.SplitMix64(0)
    assert [g.next() for _ in range(3)] == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4,
                                            0x06C45D188009454F]


def test_fisher_yates_order_from_reference_values():
    # P = 4, seed 0: k=3: 0x..cdaf % 4 = 3 (no swap); k=2: 0x6e789e6aa1b965f4 % 3
    # = 0 (swap 2 and 0 -> [2, 1, 0, 3]); k=1: 0x..454f % 2 = 1 (no swap).
    rng = M.SplitMix64(0)
    assert M.shuffled_order(rng, 4) == [2, 1, 0, 3]
    # Three draws were taken: the state is seed + 3 * gamma (the generator
    # carries over to the next sweep).
    assert rng.state == (3 * 0x9E3779B97F4A7C15) % (1 << 64)
    assert M.shuffled_order(M.SplitMix64(5), 1) == [0]


# ---------------------------------------------------------------------------
# safetensors
# ---------------------------------------------------------------------------

def _every_dtype():
    rng = np.random.default_rng(4)
    out = {"bool": np.array([[True, False, True], [False, False, True]])}
    for name, dt in (("u8", np.uint8), ("i8", np.int8), ("u16", np.uint16), ("i16", np.int16),
                     ("u32", np.uint32), ("i32", np.int32), ("u64", np.uint64),
                     ("i64", np.int64)):
        info = np.iinfo(dt)
        vals = rng.integers(info.min, info.max, size=5, dtype=dt, endpoint=True)
        out[name] = np.concatenate([vals, np.array([info.min, info.max, 0], dtype=dt)])
    for name, dt in (("f16", np.float16), ("f32", np.float32), ("f64", np.float64)):
        tiny = np.finfo(dt).tiny / 4       # a subnormal
        out[name] = np.array([[1.5, -0.0, np.inf], [-np.inf, np.nan, tiny]], dtype=dt)
    out["bf16"] = st.Raw("BF16", rng.integers(0, 1 << 16, size=(2, 3), dtype=np.uint16))
    for name in ("F8_E4M3", "F8_E5M2", "F8_E8M0"):
        out[name.lower()] = st.Raw(name, np.arange(256, dtype=np.uint8).reshape(16, 16))
    out["empty"] = np.zeros((0, 3), dtype=np.float32)
    out["scalar"] = np.array(7.0)
    return out


EXPECTED_DTYPE = {"bool": "BOOL", "u8": "U8", "i8": "I8", "u16": "U16", "i16": "I16",
                  "u32": "U32", "i32": "I32", "u64": "U64", "i64": "I64", "f16": "F16",
                  "f32": "F32", "f64": "F64", "bf16": "BF16", "f8_e4m3": "F8_E4M3",
                  "f8_e5m2": "F8_E5M2", "f8_e8m0": "F8_E8M0", "empty": "F32", "scalar": "F64"}


def test_safetensors_round_trip_every_dtype(tmp_path):
    tensors = _every_dtype()
    path = tmp_path / "all.safetensors"
    st.write(path, tensors, metadata={"format": "pt", "note": "oracle"})
    back, meta = st.read(path)
    assert meta == {"format": "pt", "note": "oracle"}
    assert list(back) == list(tensors)
    for name, t in tensors.items():
        got = back[name]
        assert M.dtype_name(got) == EXPECTED_DTYPE[name], name
        assert got.shape == t.shape, name
        bits_in = t.bits if isinstance(t, st.Raw) else t
        bits_out = got.bits if isinstance(got, st.Raw) else got
        assert bits_in.tobytes() == bits_out.tobytes(), name
    # Layout: padded header, data offsets contiguous in insertion order.
    blob = path.read_bytes()
    (n,) = struct.unpack("<Q", blob[:8])
    assert n % 8 == 0
    header = json.loads(blob[8:8 + n])
    assert list(header)[0] == "__metadata__"
    pos = 0
    for name in tensors:
        begin, end = header[name]["data_offsets"]
        assert begin == pos
        pos = end
    assert pos == len(blob) - 8 - n


def test_safetensors_exact_bytes(tmp_path):
    path = tmp_path / "a.safetensors"
    st.write(path, {"a": np.array([1.0, 2.0], dtype=np.float32)})
    text = b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'   # 54 bytes
    expected = struct.pack("<Q", 56) + text + b"  " + struct.pack("<2f", 1.0, 2.0)
    assert path.read_bytes() == expected
    # Padding: 57 bytes of JSON become 64 (7 spaces); pad=False keeps 57.
    text57 = '{"k":"' + "v" * 49 + '"}'
    hb = st.header_bytes(text57)
    assert struct.unpack("<Q", hb[:8])[0] == 64 and hb == hb[:8] + text57.encode() + b" " * 7
    assert struct.unpack("<Q", st.header_bytes(text57, pad=False)[:8])[0] == 57


def test_safetensors_dtype_override_and_bf16_values(tmp_path):
    path = tmp_path / "b.safetensors"
    st.write(path, {"x": np.array([0x3F80, 0xC040, 0x7F80], dtype=np.uint16)},
             dtypes={"x": "BF16"})
    back, meta = st.read(path)
    assert meta is None
    assert back["x"].dtype == "BF16"
    np.testing.assert_array_equal(st.bf16_to_f32(back["x"].bits), [1.0, -3.0, np.inf])


def test_f32_to_bf16_matches_torch_rounding():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    bits = rng.integers(0, 1 << 32, size=20000, dtype=np.uint64).astype(np.uint32)
    x = bits.view(np.float32)
    x = np.concatenate([x[np.isfinite(x)], np.float32([0.0, -0.0, 1.0, 1.00390625,
                                                        1.01171875, 3.4e38, -3.4e38])])
    ours = st.f32_to_bf16(x)
    theirs = torch.from_numpy(x.copy()).to(torch.bfloat16).view(torch.int16).numpy()
    np.testing.assert_array_equal(ours, theirs.view(np.uint16))
    assert np.isnan(st.bf16_to_f32(st.f32_to_bf16(np.float32([np.nan]))))[0]


@pytest.mark.parametrize("header,data,msg", [
    ({"a": {"dtype": "U8", "shape": [2], "data_offsets": [1, 3]}}, b"xyz", "starts at"),
    ({"a": {"dtype": "U8", "shape": [3], "data_offsets": [0, 2]}}, b"xy", "bytes for shape"),
    ({"a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}}, b"xyz", "cover"),
    ({"a": {"dtype": "F128", "shape": [1], "data_offsets": [0, 1]}}, b"x", "unknown dtype"),
    ({"a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]},
      "b": {"dtype": "U8", "shape": [2], "data_offsets": [1, 3]}}, b"xyz", "starts at"),
    ({"a": {"dtype": "U8", "shape": [-1], "data_offsets": [0, 0]}}, b"", "bad shape"),
    ({"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1], "x": 1}}, b"x", "exactly"),
    ('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{}}', b"x", "duplicate"),
    ('{"a":', b"", "not JSON"),
])
def test_safetensors_rejects_malformed(tmp_path, header, data, msg):
    path = tmp_path / "bad.safetensors"
    st.write_raw(path, header, data)
    with pytest.raises(ValueError, match=msg):
        st.read(path)


def test_safetensors_rejects_bad_length(tmp_path):
    path = tmp_path / "len.safetensors"
    path.write_bytes(struct.pack("<Q", 1000) + b"{}")
    with pytest.raises(ValueError, match="exceeds"):
        st.read(path)
    path.write_bytes(b"\x01\x02")
    with pytest.raises(ValueError, match="shorter"):
        st.read(path)


# ---------------------------------------------------------------------------
# Graph loading
# ---------------------------------------------------------------------------

FORMAT_DOC_EXAMPLE = {
    "format": "mudsc-graph", "version": 1,
    "splits": [{"tensor": "blocks.0.attn.qkv.weight", "axis": 0, "parts": ["q", "k", "v"]}],
    "points": [{"name": "fc1", "width": 512, "groups": 1, "site": {"name": "fc1.act", "axis": -1},
                "bindings": [
                    {"tensor": "fc1.weight", "axis": 0, "role": "out"},
                    {"tensor": "fc1.bias", "axis": 0, "role": "out"},
                    {"tensor": "bn1.running_mean", "axis": 0, "role": "out", "ignore": True},
                    {"tensor": "fc2.weight", "axis": 1, "role": "in"},
                    {"tensor": "blocks.0.attn.qkv.weight", "part": "q", "axis": 0,
                     "role": "out"}]}],
}


def test_load_graph_format_example(tmp_path):
    path = tmp_path / "g.json"
    path.write_text(json.dumps(FORMAT_DOC_EXAMPLE))
    g = M.load_graph(str(path))
    assert [p.name for p in g.points] == ["fc1"]
    p = g.points[0]
    assert (p.width, p.groups, p.site) == (512, 1, {"name": "fc1.act", "axis": -1})
    assert p.bindings[2] == M.Binding("bn1.running_mean", 0, "out", None, True)
    assert p.bindings[4].part == "q"
    assert g.splits["blocks.0.attn.qkv.weight"].parts == ["q", "k", "v"]


def _mutated(fn):
    doc = json.loads(json.dumps(FORMAT_DOC_EXAMPLE))
    fn(doc)
    return doc


@pytest.mark.parametrize("mutate", [
    lambda d: d.update(version=2),
    lambda d: d.update(format="other"),
    lambda d: d.update(extra=1),
    lambda d: d.pop("points"),
    lambda d: d["points"][0].update(groups=3),
    lambda d: d["points"][0].update(width=0),
    lambda d: d["points"][0]["bindings"].append({"tensor": "fc1.weight", "axis": 0, "role": "in"}),
    lambda d: d["points"][0]["bindings"].append(
        {"tensor": "blocks.0.attn.qkv.weight", "part": "z", "axis": 1, "role": "in"}),
    lambda d: d["points"][0]["bindings"].append(
        {"tensor": "blocks.0.attn.qkv.weight", "axis": 0, "role": "in"}),
    lambda d: d["points"][0]["bindings"][0].update(role="sideways"),
    lambda d: d["points"].append(dict(d["points"][0], bindings=[])),
    lambda d: d["splits"][0].update(parts=["q"]),
])
def test_load_graph_rejects_invalid(mutate):
    with pytest.raises(ValueError):
        M.load_graph(_mutated(mutate))


# ---------------------------------------------------------------------------
# Merging a network with permuted copies of itself returns the network
# ---------------------------------------------------------------------------

ALPHA = {"activations": 0.0, "dual": 0.5, "weights": 1.0}


def _zip_params(N):
    # C' = C needs r = 1 - 1/N.  For N = 3, a = 1 keeps a cluster's similarity
    # to its third true member at 1 (a < 1 would shrink it below unrelated
    # within-model pairs); for N = 2 the default a = 0.5 is fine.
    return {"r": 0.5, "a": 0.5} if N == 2 else {"r": 2.0 / 3.0, "a": 1.0}


def _check_recovered(corr, C, copy_perms):
    """Anchor unit j is original unit j, and unit u of copy i holds original
    unit copy_perms[i-1][u]: so P[i*C + u] = perm[u] and merged unit j takes
    copy unit argsort(perm)[j]."""
    assert corr.Cp == C
    np.testing.assert_array_equal(corr.P[:C], np.arange(C))
    for i, perm in enumerate(copy_perms, 1):
        np.testing.assert_array_equal(corr.P[i * C:(i + 1) * C], perm)
        np.testing.assert_array_equal(corr.perm(i), np.argsort(perm))


def _assert_no_dead_units(features):
    # Precondition of exact recovery: a constant (dead ReLU) unit has zero
    # correlation with everything, its partner would be arbitrary.
    for f in features:
        assert np.all(f.std(axis=0) > 1e-2), "toy data has a (nearly) dead unit; pick another seed"


@pytest.mark.parametrize("norm", [False, True])
@pytest.mark.parametrize("mode", ["activations", "dual", "weights"])
@pytest.mark.parametrize("method", ["align", "zip"])
@pytest.mark.parametrize("N", [2, 3])
def test_mlp_merged_with_permuted_copies_is_itself(N, method, mode, norm):
    widths = [6, 10, 8, 4]
    m0 = T.random_mlp(widths, seed=12, norm=norm)
    rng = np.random.default_rng(100 + N)
    perms = [{1: rng.permutation(10), 2: rng.permutation(8)} for _ in range(N - 1)]
    models = [m0] + [T.permute_mlp(m0, p) for p in perms]
    graph = M.load_graph(T.mlp_graph(widths, norm=norm))
    x = rng.standard_normal((300, 6))
    hs = [T.mlp_forward(m, x, norm)[1] for m in models]
    _assert_no_dead_units(hs[0])
    acts = None
    if mode != "weights":
        acts = {f"fc{k}": M.activation_similarity([h[k - 1] for h in hs]) for k in (1, 2)}
    kw = _zip_params(N) if method == "zip" else {}
    res = M.mudsc(graph, models, acts, method, ALPHA[mode], **kw)
    for k, C in ((1, 10), (2, 8)):
        _check_recovered(res.corr[f"fc{k}"], C, [p[k] for p in perms])
        assert res.scores[f"fc{k}"][2] == pytest.approx(1.0, abs=1e-12)
    merged = M.merged_tensors(graph, models, res.corr)
    assert list(merged) == list(m0)
    for name in m0:
        np.testing.assert_allclose(merged[name], m0[name], rtol=0, atol=1e-12, err_msg=name)
    for i in range(1, N):   # permute only: exactly the original
        for name, t in M.permute_only(graph, models, res.corr, i).items():
            np.testing.assert_array_equal(t, m0[name], err_msg=name)
    y0 = T.mlp_forward(m0, x, norm)[0]
    np.testing.assert_allclose(T.mlp_forward(merged, x, norm)[0], y0, rtol=0, atol=1e-12)


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("method", ["align", "zip"])
@pytest.mark.parametrize("N", [2, 3])
def test_fused_net_with_splits_and_groups(N, method, alpha):
    # Activations are always given, so the loop starts from the true
    # correspondence (S_a); alpha = 1 then runs pure weight-space sweeps from
    # it, which must keep it: with every other point matched, the true pairs'
    # weight features (split parts, whole-tensor IN axis) are identical.
    # (From scratch, weight matching on a net this small may end in a local
    # optimum, which is what coordinate descent promises, so that is not
    # asserted here; the MLP test above does check it for its seeds.)
    H0, H, G = 6, 8, 4
    m0 = T.random_fused(5, H0, H, 3, seed=20)
    rng = np.random.default_rng(200 + N)
    perms = [{"h0": rng.permutation(H0), "a": T.block_perm(G, H // G, rng),
              "b": rng.permutation(H)} for _ in range(N - 1)]
    models = [m0] + [T.permute_fused(m0, p) for p in perms]
    graph = M.load_graph(T.fused_graph(H0, H, G))
    x = rng.standard_normal((400, 5))
    y0 = T.fused_forward(m0, x, G)[0]
    for m in models[1:]:   # the permutations really leave the function alone
        np.testing.assert_allclose(T.fused_forward(m, x, G)[0], y0, rtol=0, atol=1e-12)
    feats = [T.fused_forward(m, x, G)[1] for m in models]
    _assert_no_dead_units(feats[0].values())
    acts = {n: M.activation_similarity([f[n] for f in feats]) for n in ("h0", "a", "b")}
    kw = _zip_params(N) if method == "zip" else {}
    res = M.mudsc(graph, models, acts, method, alpha, **kw)
    assert res.sweeps == (0 if alpha == 0 else 1 + 5)   # nothing beats sweep 0
    for name, C in (("h0", H0), ("a", H), ("b", H)):
        _check_recovered(res.corr[name], C, [p[name] for p in perms])
        assert res.scores[name][2] == pytest.approx(1.0, abs=1e-12)
    merged = M.merged_tensors(graph, models, res.corr)
    for name in m0:
        np.testing.assert_allclose(merged[name], m0[name], rtol=0, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(T.fused_forward(merged, x, G)[0], y0, rtol=0, atol=1e-12)


def test_bf16_model_merges_back_bit_exactly():
    widths = [4, 6, 3]
    m64 = T.random_mlp(widths, seed=31)
    perm = np.random.default_rng(32).permutation(6)
    to_bf16 = lambda m: {k: st.Raw("BF16", st.f32_to_bf16(v.astype(np.float32))) for k, v in m.items()}
    models = [to_bf16(m64), to_bf16(T.permute_mlp(m64, {1: perm}))]
    graph = M.load_graph(T.mlp_graph(widths))
    res = M.mudsc(graph, models, None, "align", 1.0)
    np.testing.assert_array_equal(res.corr["fc1"].perm(1), np.argsort(perm))
    merged = M.merged_tensors(graph, models, res.corr)
    for name, t in models[0].items():
        assert merged[name].dtype == "BF16"
        np.testing.assert_array_equal(merged[name].bits, t.bits)


# ---------------------------------------------------------------------------
# Zip, hand-worked
# ---------------------------------------------------------------------------

S4 = np.array([[1.0, 0.8, 0.8, 0.1],
               [0.8, 1.0, 0.5, 0.6],
               [0.8, 0.5, 1.0, 0.7],
               [0.1, 0.6, 0.7, 1.0]])


def test_zip_hand_example_tie_and_a():
    # N=2, C=2 (units 0,1 of model 0; 2,3 of model 1); r=0.5 -> C'=2;
    # B = floor(floor((4-2)/2)*1) = 1; a = 0.5.
    # Step 1: max 0.8 at (0,1), (0,2), (1,0), (2,0): first in row-major is
    #   (0,1).  Same model 0: budget 0 -> spent -> W[0,1] = -inf.  Unit 1
    #   joins 0: row 0 = min(row0, row1) = [-inf, -inf, 0.5, 0.1] * 0.5
    #   = [-inf, -inf, 0.25, 0.05].  3 clusters.
    # Step 2: active {0,2,3}: W[0,2]=0.25, W[0,3]=0.05, W[2,3]=0.7 -> (2,3),
    #   same model 1 (budget 0, spent).  2 clusters = C': stop.
    # P = [0,0,1,1]; score = (S[0,1] + S[2,3]) / 2 = 0.75.
    # (Breaking the first tie as (0,2) would give P = [0,1,0,1].)
    c = M.zip_match(S4, 2, 2, r=0.5, a=0.5, b=1.0)
    np.testing.assert_array_equal(c.P, [0, 0, 1, 1])
    np.testing.assert_array_equal(c.pairs, [[0, 1], [2, 3]])
    assert c.Cp == 2
    assert M.score(S4, c) == pytest.approx(0.75, abs=1e-15)
    np.testing.assert_array_equal(c.counts(), [[2, 0], [0, 2]])
    np.testing.assert_array_equal(c.merge(0), [[0.5, 0], [0.5, 0]])
    np.testing.assert_array_equal(c.merge(1), [[0, 0.5], [0, 0.5]])
    np.testing.assert_array_equal(c.unmerge(1), [[0, 1], [0, 1]])


def test_zip_zero_budget_allows_one_merge_as_written():
    # b = 0 -> B = 0.  Step 2 of algorithm.md §9.2 only disables a model after it
    # spends a unit, so the first within-model merge still happens (budget
    # becomes -1, then the model is disabled); same as the paper's code.
    c = M.zip_match(S4, 2, 2, r=0.5, a=0.5, b=0.0)
    np.testing.assert_array_equal(c.pairs, [[0, 1], [2, 3]])


S6 = np.array([
    # 0    1    2    3    4    5      units 0-2 model 0, 3-5 model 1
    [1.0, 0.9, 0.8, 0.3, 0.2, 0.1],
    [0.9, 1.0, 0.8, 0.2, 0.3, 0.1],
    [0.8, 0.8, 1.0, 0.7, 0.1, 0.6],
    [0.3, 0.2, 0.7, 1.0, 0.2, 0.1],
    [0.2, 0.3, 0.1, 0.2, 1.0, 0.5],
    [0.1, 0.1, 0.6, 0.1, 0.5, 1.0]])


def test_zip_hand_example_budget():
    # N=2, C=3, r=0.5 -> C'=3, a=1 (rows only take the min).
    # b=1: B = floor(floor(3/2)*1) = 1.
    #  1. max 0.9 (0,1), model 0 -> budget 0, spent: W among {0,1,2} = -inf.
    #     row0 = min(row0,row1): col2 -inf, col3 .2, col4 .2, col5 .1.
    #  2. active {0,2,3,4,5}: largest is (2,3)=.7 (cross; (0,2) is -inf).
    #     row2 = min(row2,row3): col0 -inf, col4 .1, col5 .1.
    #  3. active {0,2,4,5}: (0,4)=.2 (0,5)=.1 (2,4)=.1 (2,5)=.1 (4,5)=.5
    #     -> (4,5), model 1 -> budget 0.  3 clusters: stop.
    #  P = [0,0,1,1,2,2]; score = (.9+.7+.5)/3 = .7
    c = M.zip_match(S6, 2, 3, r=0.5, a=1.0, b=1.0)
    np.testing.assert_array_equal(c.pairs, [[0, 1], [2, 3], [4, 5]])
    np.testing.assert_array_equal(c.P, [0, 0, 1, 1, 2, 2])
    assert M.score(S6, c) == pytest.approx(0.7, abs=1e-15)
    # b=2: B = 2.
    #  1. (0,1) .9, model 0 -> budget 1, not spent; row0 col2 = min(.8,.8) = .8.
    #  2. (0,2) .8 beats (2,3) .7; model 0 -> budget 0, spent.
    #     row0 = min(row0,row2): col3 .2, col4 .1, col5 .1.
    #  3. active {0,3,4,5}: (0,3)=.2 (3,4)=.2 (4,5)=.5 -> (4,5), model 1 -> 1.
    #  P = [0,0,0,1,2,2]; score = (.9+.8+.5)/3
    c = M.zip_match(S6, 2, 3, r=0.5, a=1.0, b=2.0)
    np.testing.assert_array_equal(c.pairs, [[0, 1], [0, 2], [4, 5]])
    np.testing.assert_array_equal(c.P, [0, 0, 0, 1, 2, 2])
    assert M.score(S6, c) == pytest.approx(2.2 / 3, abs=1e-15)


S4B = np.array([[1.0, 0.5, 0.9, 0.1],
                [0.5, 1.0, 0.2, 0.3],
                [0.9, 0.2, 1.0, 0.4],
                [0.1, 0.3, 0.4, 1.0]])


def test_zip_a_zero_forbids_and_fails():
    # N=2, C=2, r=0.75 -> C'=1, B=floor(floor(3/2)*1)=1.
    # a=0: 1. (0,2)=.9 cross; row0 = min(row0,row2) then -inf at active reps of
    #   models 0 and 1 = everything.  2. active {0,1,3}: only (1,3)=.3 left;
    #   row1 likewise all -inf.  3. active {0,1}: W[0,1] = -inf -> error.
    with pytest.raises(M.MudscNumericError):
        M.zip_match(S4B, 2, 2, r=0.75, a=0.0, b=1.0)
    # a=0.5: 1. (0,2); row0 = [-inf, min(.5,.2), -inf, min(.1,.4)]*.5
    #   = [-inf, .1, -inf, .05].  2. active {0,1,3}: (0,1)=.1 (0,3)=.05
    #   (1,3)=.3 -> (1,3); row1 col0 = min(.1,.05)*.5 = .025.
    #   3. (0,1)=.025 -> one cluster.  score = (.9+.3+.5)/3.
    c = M.zip_match(S4B, 2, 2, r=0.75, a=0.5, b=1.0)
    np.testing.assert_array_equal(c.pairs, [[0, 2], [1, 3], [0, 1]])
    np.testing.assert_array_equal(c.P, [0, 0, 0, 0])
    assert M.score(S4B, c) == pytest.approx(1.7 / 3, abs=1e-15)


def test_zip_width_and_budget_formulas():
    assert M.zip_width(20, 0.5) == 10
    assert M.zip_width(24, 2.0 / 3.0) == 8
    assert M.zip_width(10, 0.75) == 2          # floor(2.5)
    assert M.zip_budget(20, 10, 2, 1.0) == 5
    assert M.zip_budget(20, 10, 2, 0.5) == 2   # floor(5 * 0.5)
    assert M.zip_budget(7, 3, 3, 1.0) == 1     # floor(4/3) = 1
    with pytest.raises(ValueError):
        M.zip_match(S4, 2, 2, r=0.0)           # C' = NC: nothing to merge


# ---------------------------------------------------------------------------
# Group matchers
# ---------------------------------------------------------------------------

def _brute_group_align(S, N, C, G):
    """Group align by enumeration (no SciPy): all inner permutations of every
    block pair, all block permutations."""
    Cg = C // G
    P = list(range(C))
    for i in range(1, N):
        inner = {}
        for g, h in itertools.product(range(G), repeat=2):
            blk = S[g * Cg:(g + 1) * Cg, i * C + h * Cg:i * C + (h + 1) * Cg]
            best = max(itertools.permutations(range(Cg)),
                       key=lambda q: sum(blk[k, q[k]] for k in range(Cg)))
            inner[g, h] = (best, sum(blk[k, best[k]] for k in range(Cg)) / Cg)
        bp = max(itertools.permutations(range(G)), key=lambda q: sum(inner[g, q[g]][1]
                                                                      for g in range(G)))
        Pi = [0] * C
        for g in range(G):
            for k in range(Cg):
                Pi[bp[g] * Cg + inner[g, bp[g]][0][k]] = g * Cg + k
        P += Pi
    return np.array(P)


def test_group_align_equals_enumeration_and_keeps_blocks():
    N, C, G = 3, 9, 3
    Cg = C // G
    S = M.similarity(np.random.default_rng(41).standard_normal((N * C, 12)))
    c = M.group_align(S, N, C, G)
    np.testing.assert_array_equal(c.P, _brute_group_align(S, N, C, G))
    for i in range(1, N):
        perm = c.perm(i)
        for g in range(G):
            assert len(set(perm[g * Cg:(g + 1) * Cg] // Cg)) == 1


def test_group_align_differs_from_align_when_a_unit_pulls_across_blocks():
    # N=2, C=4, G=2 (Cg=2); model-1 units are stacked 4..7, its blocks {4,5}
    # and {6,7}.  Anchor unit 0 has one very strong partner (4) in model-1
    # block 0; otherwise anchor block 0 fits model-1 block 1 and vice versa.
    # Plain align: 0->0, 1->3, 2->2, 3->1 (sum 1.5+.6+.1+.6 = 2.8 beats the
    # block-respecting 2.4), so anchor block 0 is split over both blocks.
    # Group align: block scores (0,0)=.75 (0,1)=.6 (1,0)=.6 (1,1)=.05, the
    # G x G LAP swaps the blocks (1.2 > .8): perm = [2, 3, 0, 1].
    N, C, G = 2, 4, 2
    S = np.zeros((8, 8))
    S[np.arange(8), np.arange(8)] = 1.0
    for (u, v, s) in ((0, 6, 0.6), (1, 7, 0.6), (2, 4, 0.6), (3, 5, 0.6), (0, 4, 1.5),
                      (2, 6, 0.1)):
        S[u, v] = S[v, u] = s
    np.testing.assert_array_equal(M.align(S, N, C).perm(1), [0, 3, 2, 1])
    np.testing.assert_array_equal(M.group_align(S, N, C, G).perm(1), [2, 3, 0, 1])


def test_group_zip_stays_inside_bundles():
    N, C, G = 2, 6, 3
    Cg = C // G
    S = M.similarity(np.random.default_rng(43).standard_normal((N * C, 10)))
    c = M.group_zip(S, N, C, G, r=0.5, a=0.5, b=1.0)
    Cgp = (N * Cg) // 2
    assert c.Cp == G * Cgp
    block_of = M.group_align(S, N, C, G).perm(1) // Cg   # model-1 block matched to anchor block
    for u in range(N * C):
        i, unit = divmod(u, C)
        g = c.P[u] // Cgp                       # bundle of its merged unit
        expected_block = g if i == 0 else block_of[g * Cg]
        assert unit // Cg == expected_block
    assert len(c.pairs) == G * (N * Cg - Cgp)


# ---------------------------------------------------------------------------
# Weight features and merged tensors: closed forms on a tiny graph
# ---------------------------------------------------------------------------

TINY_GRAPH = {
    "format": "mudsc-graph", "version": 1,
    "points": [
        {"name": "q", "width": 3, "bindings": [
            {"tensor": "A", "axis": 0, "role": "out"},
            {"tensor": "Bw", "axis": 1, "role": "in"}]},
        {"name": "p", "width": 2, "bindings": [
            {"tensor": "Bw", "axis": 0, "role": "out"},
            {"tensor": "Cw", "axis": 1, "role": "in"}]},
    ],
}


def _tiny_models():
    rng = np.random.default_rng(51)
    return [{"A": rng.standard_normal((3, 4)), "Bw": rng.standard_normal((2, 3)),
             "Cw": rng.standard_normal((5, 2)), "z": rng.standard_normal(3),
             "n": np.array([i, 7], dtype=np.int32)} for i in range(2)]


def _tiny_corr():
    # q zipped: model 0 units 0,1 -> merged 0, unit 2 -> merged 1;
    #           model 1 unit 0 -> merged 2, unit 1 -> merged 1, unit 2 -> merged 2.
    q = M.Correspondence(np.array([0, 0, 1, 2, 1, 2]), 3, 2, 3, np.zeros((0, 2), dtype=int))
    # p aligned: merged unit j = model-1 unit perm[j], perm = [1, 0].
    p = M.Correspondence(np.array([0, 1, 1, 0]), 2, 2, 2, np.zeros((0, 2), dtype=int))
    return {"q": q, "p": p}


def test_weight_features_apply_merge_on_in_and_unmerge_on_out():
    g = M.load_graph(TINY_GRAPH)
    models = _tiny_models()
    corr = _tiny_corr()
    members = {0: [[0, 1], [2], []], 1: [[], [1], [0, 2]]}   # model -> merged unit -> units
    # Point p: Bw's axis 1 is IN of q -> M_i(q): mean over model i's members.
    F = M.weight_features(g, models, "p", corr)
    for i, m in enumerate(models):
        Bq = np.zeros((2, 3))
        for r in range(2):
            for j in range(3):
                if members[i][j]:
                    Bq[r, j] = np.mean([m["Bw"][r, u] for u in members[i][j]])
        np.testing.assert_allclose(F[i], np.hstack([Bq, m["Cw"].T]), rtol=0, atol=1e-15)
    # Point q: Bw's axis 0 is OUT of p -> U_i(p) = P_i(p).
    F = M.weight_features(g, models, "q", corr)
    perm = {0: [0, 1], 1: [1, 0]}
    for i, m in enumerate(models):
        Bp = np.array([[m["Bw"][perm[i][j], u] for j in range(2)] for u in range(3)])
        np.testing.assert_allclose(F[i], np.hstack([m["A"], Bp]), rtol=0, atol=1e-15)
    # Without correspondences the axes are used as they are.
    F = M.weight_features(g, models, "q", {})
    np.testing.assert_array_equal(F[1], np.hstack([models[1]["A"], models[1]["Bw"].T]))
    Sw = M.weight_similarity(g, models, "q", {})
    np.testing.assert_allclose(Sw, np.corrcoef(np.vstack(F)), rtol=0, atol=1e-12)


def test_merged_tensors_weighted_closed_form():
    g = M.load_graph(TINY_GRAPH)
    models = _tiny_models()
    corr = _tiny_corr()
    w = (0.25, 0.75)
    out = M.merged_tensors(g, models, corr, weights=w)
    A0, A1 = models[0]["A"], models[1]["A"]
    # OUT axis: weighted mean over all members of each merged unit.
    expected_A = np.vstack([(A0[0] + A0[1]) / 2,
                            (0.25 * A0[2] + 0.75 * A1[1]) / (0.25 + 0.75),
                            (A1[0] + A1[2]) / 2])
    np.testing.assert_allclose(out["A"], expected_A, rtol=0, atol=1e-15)
    # Bw: rows follow p (model 1 rows reordered by perm [1, 0]); columns are
    # q's IN axis: weighted sum of the members' columns.
    B0, B1 = models[0]["Bw"], models[1]["Bw"][[1, 0]]
    expected_B = np.column_stack([0.25 * (B0[:, 0] + B0[:, 1]),
                                  0.25 * B0[:, 2] + 0.75 * B1[:, 1],
                                  0.75 * (B1[:, 0] + B1[:, 2])])
    np.testing.assert_allclose(out["Bw"], expected_B, rtol=0, atol=1e-15)
    np.testing.assert_allclose(out["Cw"], 0.25 * models[0]["Cw"] + 0.75 * models[1]["Cw"][:, [1, 0]],
                               rtol=0, atol=1e-15)
    np.testing.assert_allclose(out["z"], 0.25 * models[0]["z"] + 0.75 * models[1]["z"],
                               rtol=0, atol=1e-15)
    np.testing.assert_array_equal(out["n"], models[0]["n"])    # non-float: model 0's


# ---------------------------------------------------------------------------
# The loop's bookkeeping
# ---------------------------------------------------------------------------

def test_mudsc_stopping_rule_and_best_sweep():
    widths = [5, 7, 6, 5, 3]
    models = [T.random_mlp(widths, seed=s) for s in (61, 62)]   # unrelated networks
    graph = M.load_graph(T.mlp_graph(widths))
    for patience in (1, 3):
        res = M.mudsc(graph, models, None, "align", 1.0, patience=patience, seed=7)
        obj = res.objectives
        b = res.best_sweep
        assert res.sweeps == len(obj)
        assert obj[b] == max(obj) and all(o < obj[b] for o in obj[:b])
        assert all(o <= obj[b] for o in obj[b:])
        assert res.sweeps == b + 1 + patience            # stopped by patience
        assert res.scores["fc1"][2] == pytest.approx(res.scores["fc1"][0], abs=0)   # alpha = 1
        assert np.isnan(res.scores["fc1"][1])
    res = M.mudsc(graph, models, None, "align", 1.0, max_iter=1)
    assert (res.sweeps, res.best_sweep, len(res.objectives)) == (1, 0, 1)


def test_mudsc_alpha_zero_is_initialisation_only():
    widths = [4, 6, 3]
    models = [T.random_mlp(widths, seed=s) for s in (71, 72)]
    graph = M.load_graph(T.mlp_graph(widths))
    S_a = M.similarity(np.random.default_rng(73).standard_normal((12, 50)))
    res = M.mudsc(graph, models, {"fc1": S_a}, "align", 0.0)
    assert (res.sweeps, res.best_sweep, res.objectives) == (0, -1, [])
    np.testing.assert_array_equal(res.corr["fc1"].P, M.align(S_a, 2, 6).P)
    assert res.scores["fc1"][1] == M.score(S_a, M.align(S_a, 2, 6))


def test_align_score_is_mean_matched_similarity():
    S = M.similarity(np.random.default_rng(81).standard_normal((12, 20)))
    c = M.align(S, 3, 4)
    expected = np.mean([S[j, i * 4 + c.perm(i)[j]] for i in (1, 2) for j in range(4)])
    assert M.score(S, c) == pytest.approx(expected, abs=1e-15)
    # Optimality against enumeration for model 1.
    best = max(sum(S[j, 4 + q[j]] for j in range(4)) for q in itertools.permutations(range(4)))
    assert sum(S[j, 4 + c.perm(1)[j]] for j in range(4)) == pytest.approx(best, abs=1e-14)


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

def test_cli_round_trip(tmp_path):
    widths = [5, 8, 4]
    m0 = {k: v.astype(np.float32) for k, v in T.random_mlp(widths, seed=91).items()}
    perm = np.random.default_rng(92).permutation(8)
    m1 = T.permute_mlp(m0, {1: perm})
    for name, m in (("a", m0), ("b", m1)):
        st.write(tmp_path / f"{name}.safetensors", m)
    (tmp_path / "g.json").write_text(json.dumps(T.mlp_graph(widths)))
    x = np.random.default_rng(93).standard_normal((200, 5))
    feats = np.stack([T.mlp_forward(m, x)[1][0] for m in (m0, m1)])   # (N, n, C)
    np.save(tmp_path / "fc1.npy", feats)
    out = tmp_path / "r.npz"
    rc = M.main(["--graph", str(tmp_path / "g.json"), "--model", str(tmp_path / "a.safetensors"),
                 "--model", str(tmp_path / "b.safetensors"), "--acts",
                 f"fc1={tmp_path / 'fc1.npy'}", "--method", "align", "--alpha", "0.5",
                 "--transformed", "--out-model", str(tmp_path / "m.safetensors"),
                 "--out", str(out)])
    assert rc == 0
    r = np.load(out)
    assert list(r["points"]) == ["fc1"]
    np.testing.assert_array_equal(r["P/fc1"][8:], perm)   # copy unit u holds unit perm[u]
    assert int(r["Cp/fc1"]) == 8
    assert r["scores"].shape == (1, 3) and r["scores"][0, 2] == pytest.approx(1.0, abs=1e-6)
    assert int(r["sweeps"]) == len(r["objectives"]) and int(r["best_sweep"]) == 0
    for name in m0:
        assert str(r[f"dtype/{name}"]) == "F32"
        np.testing.assert_array_equal(r[f"merged/{name}"], m0[name])
        np.testing.assert_array_equal(r[f"transformed/1/{name}"], m0[name].astype(np.float64))
    merged, _ = st.read(tmp_path / "m.safetensors")
    for name in m0:
        np.testing.assert_array_equal(merged[name], m0[name])


def test_merge_hat_is_exact_permutation_for_align():
    # W and every column's weighted count are the same ordered sum when each
    # merged unit has one member per model, so the scale is exactly 1.
    N, C = 5, 6
    S = M.similarity(np.random.default_rng(95).standard_normal((N * C, 9)))
    c = M.align(S, N, C)
    for w in ([1.0 / N] * N, [0.1, 0.3, 0.05, 0.15, 0.4]):
        for i in range(N):
            np.testing.assert_array_equal(c.merge_hat(i, w), c.block(i))


def test_unbound_tensors_listed():
    g = M.load_graph(TINY_GRAPH)
    assert M.unbound_tensors(g, _tiny_models()[0]) == ["z", "n"]


def test_use_groups_flag_and_activation_checks():
    # One point of width 4 in 2 groups; S from the block example above.
    graph = M.load_graph({"format": "mudsc-graph", "version": 1, "points": [
        {"name": "p", "width": 4, "groups": 2, "bindings": [
            {"tensor": "W", "axis": 0, "role": "out"}]}]})
    models = [{"W": np.random.default_rng(s).standard_normal((4, 3))} for s in (1, 2)]
    S = np.zeros((8, 8))
    S[np.arange(8), np.arange(8)] = 1.0
    for (u, v, s) in ((0, 6, 0.6), (1, 7, 0.6), (2, 4, 0.6), (3, 5, 0.6), (0, 4, 1.5),
                      (2, 6, 0.1)):
        S[u, v] = S[v, u] = s
    grouped = M.mudsc(graph, models, {"p": S}, "align", 0.0)
    plain = M.mudsc(graph, models, {"p": S}, "align", 0.0, use_groups=False)
    np.testing.assert_array_equal(grouped.corr["p"].perm(1), [2, 3, 0, 1])
    np.testing.assert_array_equal(plain.corr["p"].perm(1), [0, 3, 2, 1])
    with pytest.raises(ValueError):
        M.mudsc(graph, models, {"p": np.zeros((4, 4))}, "align", 0.5)   # wrong shape
    two = M.load_graph({"format": "mudsc-graph", "version": 1, "points": [
        {"name": "p", "width": 4, "bindings": [{"tensor": "W", "axis": 0, "role": "out"}]},
        {"name": "q", "width": 3, "bindings": [{"tensor": "W", "axis": 1, "role": "in"}]}]})
    with pytest.raises(ValueError, match="none for point 'q'"):
        M.mudsc(two, models, {"p": S}, "align", 0.5)


def test_round_to_format_agrees_with_numpy_half_and_closed_forms():
    """The oracle's single rounding (round_to_format) equals NumPy's float64 ->
    float16 cast, which rounds once, on values around every half midpoint; and
    the bfloat16 case on closed forms."""
    import numpy as np
    from mudsc_ref import round_to_format
    halves = np.arange(0, 0x7BFF, dtype=np.uint16).view(np.float16).astype(np.float64)
    mids = halves[:-1] + (halves[1:] - halves[:-1]) / 2
    x = np.concatenate([mids, np.nextafter(mids, 0), np.nextafter(mids, np.inf), -mids,
                        [65519.99, 65520.0, 1e300, -1e-300, 0.0]])
    got = round_to_format(x, 11, -14, 65504.0).astype(np.float16)
    with np.errstate(over="ignore"):  # 1e300 -> inf is the point
        assert np.array_equal(got.view(np.uint16), x.astype(np.float16).view(np.uint16))
    bf = round_to_format(np.array([1 + 2**-8, 1 + 2**-8 + 2**-40, 1 + 3 * 2**-8, 1e300]),
                         8, -126, float.fromhex("0x1.fep127"))
    assert list(bf[:3]) == [1.0, 1 + 2**-7, 1 + 2**-6] and np.isinf(bf[3])
