"""Matching kernels (experimental.h) against SciPy's LAP and the NumPy oracle.

LAP: the objective must equal SciPy's (to 1e-9 relative) and the returned
assignment must be a permutation achieving it.  Align / zip: exactly the
oracle's discrete result and score, on continuous random matrices (no ties).
"""
import ctypes

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

import mudsc_ref as ref
from mudsc import MudscError
from mudsc._lib import F64P, I64P, MatchOptions, check, lib

# The kernels have no public wrapper in the binding: call them through
# the binding's declared ctypes functions (mudsc._lib declares every export).


def options(r=0.5, a=0.5, b=1.0):
    o = MatchOptions()
    lib.mudsc_match_options_init(ctypes.byref(o))
    o.r, o.a, o.b = r, a, b
    return o


def _mat(S):
    S = np.ascontiguousarray(S, dtype=np.float64)
    return S, S.ctypes.data_as(F64P)


def _i64(a):
    return a.ctypes.data_as(I64P)


def lap_solve(S):
    """-> (col_of_row int64 (n,), objective)."""
    S, p = _mat(S)
    n = S.shape[0] if S.ndim == 2 else 0
    out = np.full(max(n, 1), -7, dtype=np.int64)
    obj = ctypes.c_double(-7.0)
    check(lib.mudsc_lap_solve(_i64(out), ctypes.byref(obj), p, n))
    return out[:n], obj.value


def align_solve(S, N, C, G=1):
    """-> (perm int64 (N, C), score)."""
    S, p = _mat(S)
    perm = np.full(N * C, -7, dtype=np.int64)
    score = ctypes.c_double(-7.0)
    check(lib.mudsc_align_solve(_i64(perm), ctypes.byref(score), p, N, C, G))
    return perm.reshape(N, C), score.value


def zip_solve(S, N, C, G=1, r=0.5, a=0.5, b=1.0):
    """-> (unit_of int64 (NC,), C', pairs int64 (k, 2), score)."""
    S, p = _mat(S)
    unit_of = np.full(N * C, -7, dtype=np.int64)
    pairs = np.full(2 * N * C, -7, dtype=np.int64)
    width = ctypes.c_int64(-7)
    score = ctypes.c_double(-7.0)
    o = options(r, a, b)
    check(lib.mudsc_zip_solve(_i64(unit_of), ctypes.byref(width), _i64(pairs),
                              ctypes.byref(score), p, N, C, G, ctypes.byref(o)))
    k = N * C - width.value
    return unit_of, width.value, pairs[:2 * k].reshape(k, 2), score.value


def _close(x, y):
    return abs(x - y) <= 1e-9 * max(1.0, abs(y))


def _lap_case(rng, t):
    n = int(rng.integers(1, 24)) if t % 20 else int(rng.integers(24, 260))
    kind = t % 4
    if kind == 0:
        return rng.random((n, n))
    if kind == 1:  # integers: many ties and many optimal assignments
        return rng.integers(0, 4, (n, n)).astype(float)
    if kind == 2:  # -inf entries, a finite assignment planted
        S = rng.integers(-3, 4, (n, n)).astype(float)
        S[rng.random((n, n)) < 0.6] = -np.inf
        S[np.arange(n), rng.permutation(n)] = rng.integers(-3, 4, n)
        return S
    X = rng.standard_normal((16, 2 * n))  # correlation-like, rank-deficient
    return np.corrcoef(X.T)[:n, n:].copy()


def _check_lap(S):
    n = S.shape[0]
    rows, cols = linear_sum_assignment(S, maximize=True)
    want = S[rows, cols].sum()
    x, obj = lap_solve(S)
    assert np.array_equal(np.sort(x), np.arange(n))
    assert _close(obj, want), (n, obj, want)
    assert _close(S[np.arange(n), x].sum(), want)


def test_lap_matches_scipy_on_many_instances():
    rng = np.random.default_rng(20240605)
    for t in range(1200):
        _check_lap(_lap_case(rng, t))


@pytest.mark.parametrize("n", [512, 1024])
def test_lap_matches_scipy_large(n):
    rng = np.random.default_rng(n)
    _check_lap(rng.random((n, n)))
    _check_lap(np.corrcoef(rng.standard_normal((64, 2 * n)).T)[:n, n:].copy())
    _check_lap(rng.integers(0, 10, (n, n)).astype(float))


def test_lap_small_and_empty():
    x, obj = lap_solve(np.array([[3.5]]))
    assert list(x) == [0] and obj == 3.5
    out = np.full(1, -7, dtype=np.int64)
    obj = ctypes.c_double(-7.0)
    check(lib.mudsc_lap_solve(out.ctypes.data_as(I64P), ctypes.byref(obj), None, 0))
    assert obj.value == 0.0 and out[0] == -7


def test_lap_infeasible_and_bad_entries():
    S = np.array([[0.0, -np.inf], [1.0, -np.inf]])  # column 1 all -inf
    with pytest.raises(MudscError) as e:
        lap_solve(S)
    assert e.value.name == "MUDSC_E_NUMERIC"
    S = np.array([[1.0, -np.inf, -np.inf], [2.0, -np.inf, -np.inf], [1.0, 2.0, 3.0]])
    with pytest.raises(MudscError) as e:  # Hall: rows 0, 1 both need column 0
        lap_solve(S)
    assert e.value.name == "MUDSC_E_NUMERIC"
    for bad in (np.nan, np.inf):
        S = np.eye(3)
        S[1, 2] = bad
        with pytest.raises(MudscError) as e:
            lap_solve(S)
        assert e.value.name == "MUDSC_E_NUMERIC" and "'S'" in e.value.message


def _rand_sym(rng, n):
    A = rng.standard_normal((n, n))
    return (A + A.T) / 2


ALIGN_CASES = [(2, 6, 1), (3, 5, 1), (2, 8, 2), (3, 12, 3), (2, 12, 4), (3, 9, 9), (1, 4, 1),
               (2, 40, 1), (3, 32, 4)]


@pytest.mark.parametrize("N,C,G", ALIGN_CASES)
def test_align_equals_oracle(N, C, G):
    rng = np.random.default_rng(N * 1000 + C * 10 + G)
    for _ in range(5):
        S = _rand_sym(rng, N * C)
        corr = ref.align(S, N, C) if G == 1 else ref.group_align(S, N, C, G)
        perm, score = align_solve(S, N, C, G)
        for i in range(N):
            assert np.array_equal(perm[i], corr.perm(i))
        want = ref.score(S, corr)
        assert (np.isnan(score) and np.isnan(want)) or score == want


def test_align_nonsymmetric_input():
    rng = np.random.default_rng(7)
    S = rng.random((3 * 6, 3 * 6))  # align does not need symmetry
    corr = ref.group_align(S, 3, 6, 2)
    perm, score = align_solve(S, 3, 6, 2)
    assert all(np.array_equal(perm[i], corr.perm(i)) for i in range(3))
    assert score == ref.score(S, corr)


ZIP_PARAMS = [(0.5, 0.5, 1.0), (0.3, 1.0, 1.0), (0.7, 0.0, 1.0), (0.5, -1.0, 0.0),
              (0.5, 0.5, 0.0), (0.9, 0.5, 2.0), (0.2, 2.0, 0.5), (0.6, 0.25, 1.0)]


def _zip_both(S, N, C, G, r, a, b):
    status = None
    try:
        corr = ref.zip_match(S, N, C, r, a, b) if G == 1 else ref.group_zip(S, N, C, G, r, a, b)
    except ref.MudscNumericError:
        status = "MUDSC_E_NUMERIC"
    except ValueError:  # r gives no merge or no cluster: rejected
        status = "MUDSC_E_INVALID"
    if status is not None:
        with pytest.raises(MudscError) as e:
            zip_solve(S, N, C, G, r, a, b)
        assert e.value.name == status
        return 0
    unit_of, width, pairs, score = zip_solve(S, N, C, G, r, a, b)
    assert width == corr.Cp
    assert np.array_equal(unit_of, corr.P)
    assert np.array_equal(pairs, corr.pairs)
    assert score == ref.score(S, corr)
    return 1


@pytest.mark.parametrize("N,C,G", [(2, 8, 1), (3, 6, 1), (2, 12, 3), (3, 8, 2), (1, 10, 1),
                                   (2, 64, 1), (3, 48, 4)])
@pytest.mark.parametrize("r,a,b", ZIP_PARAMS)
def test_zip_equals_oracle(N, C, G, r, a, b):
    rng = np.random.default_rng(N * 7919 + C * 97 + G * 13 + int(r * 10) + int(b * 3))
    for _ in range(3):
        _zip_both(_rand_sym(rng, N * C), N, C, G, r, a, b)


def test_zip_many_random():
    rng = np.random.default_rng(99)
    ok = 0
    for _ in range(300):
        N = int(rng.integers(1, 4))
        G = int(rng.choice([1, 2, 3]))
        C = G * int(rng.integers(1, 7))
        r = float(rng.choice([0.1, 0.3, 0.5, 0.7, 0.9]))
        a = float(rng.choice([0.5, 1.0, 0.0, -1.0, 2.0]))
        b = float(rng.choice([1.0, 0.0, 0.5, 2.0]))
        if not 1 <= ref.zip_width(N * C // G, r) < N * C // G:
            continue
        ok += _zip_both(_rand_sym(rng, N * C), N, C, G, r, a, b)
    assert ok > 100


def test_zip_with_minus_inf_entries():
    rng = np.random.default_rng(5)
    for _ in range(20):
        S = _rand_sym(rng, 12)
        mask = rng.random((12, 12)) < 0.3
        mask = mask | mask.T
        S[mask] = -np.inf
        _zip_both(S, 2, 6, 1, 0.5, 0.5, 1.0)


def test_zip_no_admissible_merge():
    # a <= 0 and b = 0 over two models of 2: after two merges nothing is left.
    S = _rand_sym(np.random.default_rng(3), 4)
    with pytest.raises(ref.MudscNumericError):
        ref.zip_match(S, 2, 2, 0.75, -1.0, 0.0)
    with pytest.raises(MudscError) as e:
        zip_solve(S, 2, 2, 1, 0.75, -1.0, 0.0)
    assert e.value.name == "MUDSC_E_NUMERIC"


def _err(fn, *args):
    with pytest.raises(MudscError) as e:
        fn(*args)
    return e.value


def test_argument_errors():
    S = _rand_sym(np.random.default_rng(1), 8)
    e = _err(align_solve, S, 2, 4, 3)
    assert e.name == "MUDSC_E_SHAPE" and "'G'" in e.message
    e = _err(zip_solve, S, 2, 4, 1, 0.0)
    assert e.name == "MUDSC_E_INVALID" and "'opts->r'" in e.message
    e = _err(zip_solve, S, 2, 4, 1, 1.0)
    assert e.name == "MUDSC_E_INVALID" and "'opts->r'" in e.message
    e = _err(zip_solve, S, 2, 4, 1, 1e-18)  # C' = NC: nothing to merge
    assert e.name == "MUDSC_E_INVALID" and "'opts->r'" in e.message
    e = _err(zip_solve, S, 2, 4, 1, 0.9)  # C' = 0
    assert e.name == "MUDSC_E_INVALID" and "'opts->r'" in e.message
    e = _err(zip_solve, S, 2, 4, 1, 0.5, np.nan)
    assert e.name == "MUDSC_E_INVALID" and "'opts->a'" in e.message
    e = _err(zip_solve, S, 2, 4, 1, 0.5, 0.5, np.inf)
    assert e.name == "MUDSC_E_INVALID" and "'opts->b'" in e.message
    T = S.copy()
    T[0, 1] += 1e-12
    e = _err(zip_solve, T, 2, 4)
    assert e.name == "MUDSC_E_INVALID" and "symmetric" in e.message
    T = S.copy()
    T[2, 3] = T[3, 2] = np.nan
    assert _err(zip_solve, T, 2, 4).name == "MUDSC_E_NUMERIC"
    assert _err(align_solve, T, 2, 4).name == "MUDSC_E_NUMERIC"
    for N, C, G, name in ((0, 4, 1, "'N'"), (2, 0, 1, "'C'"), (2, 4, 0, "'G'")):
        e = _err(align_solve, S, N, C, G)
        assert e.name == "MUDSC_E_INVALID" and name in e.message
        e = _err(zip_solve, S, N, C, G)
        assert e.name == "MUDSC_E_INVALID" and name in e.message


def test_outputs_untouched_on_error_and_null_checks():
    S = _rand_sym(np.random.default_rng(2), 8)
    S[0, 1] = S[1, 0] = np.inf
    perm = np.full(8, -7, dtype=np.int64)
    score = ctypes.c_double(-7.0)
    st = lib.mudsc_align_solve(perm.ctypes.data_as(I64P), ctypes.byref(score),
                               S.ctypes.data_as(F64P), 2, 4, 1)
    assert st == -7 and (perm == -7).all() and score.value == -7.0
    width = ctypes.c_int64(-7)
    o = options()
    st = lib.mudsc_zip_solve(perm.ctypes.data_as(I64P), ctypes.byref(width), None,
                             ctypes.byref(score), S.ctypes.data_as(F64P), 2, 4, 1, ctypes.byref(o))
    assert st == -7 and (perm == -7).all() and width.value == -7 and score.value == -7.0
    assert lib.mudsc_align_solve(None, None, S.ctypes.data_as(F64P), 2, 4, 1) == -1
    assert lib.mudsc_align_solve(perm.ctypes.data_as(I64P), None, None, 2, 4, 1) == -1
    assert lib.mudsc_lap_solve(perm.ctypes.data_as(I64P), None, None, 3) == -1
    assert lib.mudsc_lap_solve(perm.ctypes.data_as(I64P), None, S.ctypes.data_as(F64P), -1) == -1
    small = MatchOptions()
    small.size = 8
    st = lib.mudsc_zip_solve(perm.ctypes.data_as(I64P), ctypes.byref(width), None, None,
                             S.ctypes.data_as(F64P), 2, 4, 1, ctypes.byref(small))
    assert st == -1 and b"is not a size of mudsc_match_options" in lib.mudsc_error_message()


def test_zip_default_options_and_optional_outputs():
    rng = np.random.default_rng(11)
    S = _rand_sym(rng, 12)
    corr = ref.zip_match(S, 3, 4)
    unit_of = np.full(12, -7, dtype=np.int64)
    width = ctypes.c_int64(-7)
    check(lib.mudsc_zip_solve(unit_of.ctypes.data_as(I64P), ctypes.byref(width), None, None,
                              S.ctypes.data_as(F64P), 3, 4, 1, None))
    assert width.value == corr.Cp and np.array_equal(unit_of, corr.P)
    o = MatchOptions()
    lib.mudsc_match_options_init(ctypes.byref(o))
    assert (o.size, o.r, o.a, o.b) == (ctypes.sizeof(MatchOptions), 0.5, 0.5, 1.0)


def test_zip_ties_resolve_like_the_oracle():
    # Integer similarities: many equal maxima; the first in row-major order
    # over active rows and columns must win, as in the oracle's argmax.
    rng = np.random.default_rng(17)
    done = 0
    for t in range(200):
        N = int(rng.integers(1, 4))
        C = int(rng.integers(2, 9))
        A = rng.integers(-2, 3, (N * C, N * C)).astype(float)
        S = np.triu(A) + np.triu(A, 1).T
        r = float(rng.choice([0.25, 0.5, 0.75]))
        a = float(rng.choice([0.5, 1.0, 0.0, -1.0]))
        b = float(rng.choice([1.0, 0.0, 2.0]))
        done += _zip_both(S, N, C, 1, r, a, b)
    assert done > 100
