"""mudsc.Field, mudsc.quadrature and mudsc.torch.model_distance against the
NumPy oracle tests/oracle/modelgif_ref.py (written from docs/algorithm.md's
ModelGiF section): every rule and target to 1e-10 with float64 gradients,
d(f, f) = 0, symmetry, invariance to a permutation of hidden units, shards
merged in any order, bytes round trips and the loader's refusals."""
import itertools

import numpy as np
import pytest

import mudsc
import modelgif_ref as ref

RULES = list(mudsc.field.RULES)


# ---- the quadrature rules ---------------------------------------------------

def closed_gauss(k):
    """Gauss-Legendre on [-1, 1], K = 1..5, in closed form."""
    s = np.sqrt
    table = {
        1: ([0.0], [2.0]),
        2: ([-1 / s(3), 1 / s(3)], [1.0, 1.0]),
        3: ([-s(3 / 5), 0.0, s(3 / 5)], [5 / 9, 8 / 9, 5 / 9]),
        4: ([-s(3 / 7 + 2 / 7 * s(6 / 5)), -s(3 / 7 - 2 / 7 * s(6 / 5)),
             s(3 / 7 - 2 / 7 * s(6 / 5)), s(3 / 7 + 2 / 7 * s(6 / 5))],
            [(18 - s(30)) / 36, (18 + s(30)) / 36, (18 + s(30)) / 36, (18 - s(30)) / 36]),
        5: ([-s(5 + 2 * s(10 / 7)) / 3, -s(5 - 2 * s(10 / 7)) / 3, 0.0,
             s(5 - 2 * s(10 / 7)) / 3, s(5 + 2 * s(10 / 7)) / 3],
            [(322 - 13 * s(70)) / 900, (322 + 13 * s(70)) / 900, 128 / 225,
             (322 + 13 * s(70)) / 900, (322 - 13 * s(70)) / 900]),
    }
    x, w = table[k]
    return (np.array(x) + 1) / 2, np.array(w) / 2


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_gauss_legendre_closed_forms(k):
    t, w = mudsc.quadrature("gauss-legendre", k)
    ct, cw = closed_gauss(k)
    assert np.abs(t - ct).max() <= 1e-15
    assert np.abs(w - cw).max() <= 1e-15
    for p in range(2 * k):  # exact on degree <= 2K - 1
        assert abs(np.dot(w, t ** p) - 1 / (p + 1)) <= 1e-15


@pytest.mark.parametrize("k", [7, 50, 200])
def test_gauss_legendre_large(k):
    t, w = mudsc.quadrature("gauss-legendre", k)
    rt, rw = ref.rule("gauss-legendre", k)
    assert np.abs(t - rt).max() <= 1e-14 and np.abs(w - rw).max() <= 1e-14
    assert np.all(np.diff(t) > 0)
    for p in range(0, 2 * k, max(1, k // 5)):
        assert abs(np.dot(w, t ** p) * (p + 1) - 1) <= 1e-13


@pytest.mark.parametrize("rule", RULES[1:])
def test_riemann(rule):
    t, w = mudsc.quadrature(rule, 6)
    rt, rw = ref.rule(rule, 6)
    assert np.array_equal(t, rt) and np.abs(w - rw).max() <= 1e-16


def test_quadrature_refuses():
    with pytest.raises(mudsc.InvalidArgumentError, match="steps"):
        mudsc.quadrature("riemann-trapezoid", 1)
    with pytest.raises(mudsc.InvalidArgumentError, match="steps"):
        mudsc.quadrature("gauss-legendre", 0)
    with pytest.raises(mudsc.InvalidArgumentError, match="rule"):
        mudsc.quadrature(9, 5)


# ---- the accumulator on random gradients --------------------------------------

def stream(field, grads, x, b, batch, order="step", chunk=1):
    """grads[i] (K, M, D); batches of `batch` inputs; per batch per step
    per model (order 'step') or per model all steps (order 'model')."""
    k, m, d = grads[0].shape
    for s0 in range(0, m, batch):
        sl = slice(s0, min(m, s0 + batch))
        field.begin(x[sl], None if b is None else b[sl])
        if order == "step":
            for s in range(0, k, chunk):
                for i, g in enumerate(grads):
                    field.update(i, g[s:s + chunk, sl])
        else:
            for i, g in enumerate(grads):
                field.update(i, g[:, sl])


def random_case(rng, n=3, k=6, m=7, d=5, zeros=False):
    grads = [rng.standard_normal((k, m, d)) for _ in range(n)]
    x = rng.standard_normal((m, d))
    b = rng.standard_normal((m, d)) * 0.1
    if zeros:
        x[1] = b[1]            # a zero field: x = b
        grads[0][:, 2] = 0.0   # one model's field zero at input 2
    return grads, x, b


@pytest.mark.parametrize("rule", RULES)
def test_oracle_random(rule):
    rng = np.random.default_rng(5)
    grads, x, b = random_case(rng, zeros=True)
    f = mudsc.Field(3, 5, rule=rule, steps=6, keep_inputs=True)
    stream(f, grads, x, b, batch=3)
    t, w = f.points()
    rt, rw = ref.rule(rule, 6)
    np.testing.assert_allclose(t, rt, atol=1e-14)
    want, per_step, per_input = ref.distances(grads, x, b, rw)
    assert np.abs(f.distances() - want).max() <= 1e-10
    assert np.abs(f.step_distances() - per_step).max() <= 1e-10
    assert np.abs(f.input_distances() - per_input).max() <= 1e-10
    assert f.inputs == 7


def test_orders_chunks_dtypes():
    rng = np.random.default_rng(6)
    grads, x, b = random_case(rng)
    want = ref.distances(grads, x, b, ref.rule("gauss-legendre", 6)[1])[0]
    f = mudsc.Field(3, 5, steps=6, max_lead=6 * 4)
    stream(f, grads, x, b, batch=4, order="model")
    assert np.abs(f.distances() - want).max() <= 1e-10
    f = mudsc.Field(3, 5, steps=6, block_rows=1)
    stream(f, grads, x, b, batch=7, chunk=4)
    assert np.abs(f.distances() - want).max() <= 1e-10
    # float32 gradients and a transposed (strided) view
    g32 = [g.astype(np.float32) for g in grads]
    f = mudsc.Field(3, 5, steps=6)
    for s0 in (0, 4):
        sl = slice(s0, min(7, s0 + 4))
        f.begin(np.asfortranarray(x[sl]), b[sl])
        for s in range(6):
            for i in range(3):
                f.update(i, np.asfortranarray(g32[i][s, sl]))
    want32 = ref.distances([g.astype(np.float64) for g in g32], x, b,
                           ref.rule("gauss-legendre", 6)[1])[0]
    assert np.abs(f.distances() - want32).max() <= 1e-10


def test_lead_and_state_errors():
    rng = np.random.default_rng(7)
    grads, x, b = random_case(rng)
    f = mudsc.Field(3, 5, steps=6, max_lead=4)
    with pytest.raises(mudsc.StateError, match="no open batch"):
        f.update(0, grads[0][0, :4])
    f.begin(x[:4], b[:4])
    with pytest.raises(mudsc.StateError, match="max_lead"):
        f.update(0, grads[0][:2, :4])
    with pytest.raises(mudsc.StateError, match="past the batch"):
        f.update(0, np.zeros((25, 5)))
    with pytest.raises(mudsc.StateError, match="open batch"):
        f.begin(x[:4], b[:4])
    with pytest.raises(mudsc.StateError, match="open batch"):
        f.distances()
    with pytest.raises(mudsc.ShapeError, match="5 input values"):
        f.update(0, np.zeros((4, 6)).reshape(4, 6))
    with pytest.raises(mudsc.ShapeError, match="baselines"):
        mudsc.Field(3, 5).begin(x[:4], b[:3])
    g = grads[0][0, :4].copy()
    g[1, 2] = np.nan
    with pytest.raises(mudsc.NumericError, match="non-finite"):
        f.update(0, g)
    with pytest.raises(mudsc.StateError, match="keep"):
        ff = mudsc.Field(2, 1, steps=1)
        ff.begin(np.ones((1, 1)))
        ff.update(0, np.ones((1, 1)))
        ff.update(1, np.ones((1, 1)))
        ff.input_distances()


def test_shards_any_order_and_bytes(tmp_path):
    rng = np.random.default_rng(8)
    grads, x, b = random_case(rng, n=4, k=5, m=12, d=6)
    whole = mudsc.Field(4, 6, steps=5, rule="riemann-middle", keep_inputs=True)
    stream(whole, grads, x, b, batch=5)
    parts = [(0, 3), (3, 8), (8, 12)]
    shards = []
    for lo, hi in parts:
        s = mudsc.Field(4, 6, steps=5, rule="riemann-middle", keep_inputs=True)
        stream(s, [g[:, lo:hi] for g in grads], x[lo:hi], b[lo:hi], batch=2)
        shards.append(s)
    want = whole.distances()
    for perm in itertools.permutations(range(3)):
        acc = mudsc.Field.from_bytes(shards[perm[0]].to_bytes())
        for p in perm[1:]:
            acc.merge(shards[p])
        got = acc.distances()
        assert np.abs(got - want).max() <= 1e-12 * np.abs(want).max()
        assert acc.inputs == 12
        if perm == (0, 1, 2):
            np.testing.assert_allclose(acc.input_distances(), whole.input_distances(),
                                       rtol=1e-12, atol=0)
    raw = whole.to_bytes()
    assert mudsc.Field.from_bytes(raw).to_bytes() == raw
    whole.save(tmp_path / "f.gif")
    assert mudsc.Field.load(tmp_path / "f.gif").to_bytes() == raw
    loaded = mudsc.Field.from_bytes(raw)
    assert loaded.rule == "riemann-middle" and loaded.steps == 5 and loaded.n_models == 4
    # a loaded field streams on
    stream(loaded, grads, x, b, batch=12)
    assert loaded.inputs == 24
    np.testing.assert_allclose(loaded.distances(), want, rtol=1e-12)
    with pytest.raises(mudsc.MismatchError, match="steps"):
        loaded.merge(mudsc.Field(4, 6, steps=4, rule="riemann-middle", keep_inputs=True))
    bad = bytearray(raw)
    bad[60] ^= 1
    with pytest.raises(mudsc.ParseError, match="checksum"):
        mudsc.Field.from_bytes(bytes(bad))
    with pytest.raises(mudsc.ParseError, match="length"):
        mudsc.Field.from_bytes(raw[:-8])
    with pytest.raises(mudsc.ParseError, match="magic"):
        mudsc.Field.from_bytes(b"X" * 64)


# ---- PyTorch: model_distance ----------------------------------------------------

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import mudsc.torch as mt  # noqa: E402


def mlp(seed, d=6, h=5, c=3):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d, h), nn.Tanh(), nn.Linear(h, c)).double()


def cnn(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Unflatten(1, (1, 2, 3)), nn.Conv2d(1, 2, 2), nn.Softplus(),
                         nn.Flatten(), nn.Linear(4, 3)).double()


def oracle_torch(models, batches, rule, steps, target, baseline=None):
    """Gradients by autograd one input and one step at a time, fed to the
    NumPy oracle."""
    t, w = ref.rule(rule, steps)
    xs = torch.cat([x for x, _ in batches])
    ys = torch.cat([y for _, y in batches])
    b = torch.zeros_like(xs) if baseline is None else baseline.expand_as(xs)
    grads = []
    for m in models:
        g = np.zeros((steps, len(xs), xs.shape[1]))
        for q in range(len(xs)):
            with torch.no_grad():
                pred = m(xs[q:q + 1]).argmax(1)
            for s in range(steps):
                p = (b[q] + t[s] * (xs[q] - b[q])).view(1, -1).requires_grad_(True)
                out = m(p)
                if target == "label":
                    val = out[0, ys[q]]
                elif target == "pred":
                    val = out[0, pred[0]]
                else:
                    val = target(out, ys[q:q + 1])[0]
                g[s, q] = torch.autograd.grad(val, p)[0][0].numpy()
        grads.append(g)
    return ref.distances(grads, xs.numpy(), b.numpy(), w)[0]


def logsumexp_target(out, labels):
    return torch.logsumexp(out, 1)


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("target", ["label", "pred", logsumexp_target])
def test_model_distance_oracle(rule, target):
    torch.manual_seed(0)
    batches = [(torch.randn(4, 6, dtype=torch.float64), torch.randint(0, 3, (4,)))
               for _ in range(2)]
    models = [mlp(1), mlp(2), cnn(3)]
    base = torch.full((6,), 0.1, dtype=torch.float64)
    got = mt.model_distance(models, batches, steps=5, rule=rule, target=target, baseline=base,
                            step_chunk=2)
    want = oracle_torch(models, batches, rule, 5, target, baseline=base)
    assert got.shape == (3, 3)
    assert np.abs(got - want).max() <= 1e-10


def test_model_distance_properties():
    torch.manual_seed(1)
    batches = [(torch.randn(8, 6, dtype=torch.float64), torch.randint(0, 3, (8,)))]
    a, c = mlp(4), mlp(5)
    same = mlp(4)
    # a permutation of a's hidden units: the same function
    perm = torch.randperm(5)
    p = mlp(9)
    with torch.no_grad():
        p[0].weight.copy_(a[0].weight[perm])
        p[0].bias.copy_(a[0].bias[perm])
        p[2].weight.copy_(a[2].weight[:, perm])
        p[2].bias.copy_(a[2].bias)
    seen = []
    d = mt.model_distance([a, c, same, p], batches, steps=8,
                          progress=lambda nb, ni, s: seen.append((nb, ni)))
    assert seen == [(1, 8)]
    assert np.array_equal(d, d.T) and np.all(np.diag(d) == 0)
    assert abs(d[0, 2]) <= 1e-12           # d(f, f) = 0
    assert abs(d[0, 3]) <= 1e-9            # permuted hidden units
    assert d[0, 1] > 1e-3                  # another network is not at 0
    assert np.all(d >= 0) and np.all(d <= 2)


def test_model_distance_field_and_progress_lines(capsys):
    torch.manual_seed(2)
    batches = [(torch.randn(3, 6, dtype=torch.float64), torch.randint(0, 3, (3,)))
               for _ in range(2)]
    t = {}
    d, field = mt.model_distance([mlp(1), cnn(2)], batches, steps=4, rule="riemann-right",
                                 progress=True, return_field=True, timings=t)
    assert field.inputs == 6 and field.rule == "riemann-right" and field.steps == 4
    np.testing.assert_allclose(field.step_distances().mean(axis=0), d, rtol=1e-14, atol=0)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith("model_distance: batch 2, 6 inputs")
    assert 0 < t["library_cpu"] <= t["total_cpu"] and 0 < t["library"] <= t["total"]


def test_model_distance_errors():
    with pytest.raises(mudsc.InvalidArgumentError, match="target"):
        mt.model_distance([mlp(1), mlp(2)], [(torch.zeros(1, 6), torch.zeros(1).long())],
                          target="logits")
    with pytest.raises(mudsc.InvalidArgumentError, match="no inputs"):
        mt.model_distance([mlp(1), mlp(2)], [])
