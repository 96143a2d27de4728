"""ctypes access to the matching kernels (include/mudsc/match.h) for tests."""
import ctypes

import numpy as np

from shim import check, declare, lib  # noqa: F401  (lib re-exported for callers)

I64P = ctypes.POINTER(ctypes.c_int64)
DP = ctypes.POINTER(ctypes.c_double)


class MatchOptions(ctypes.Structure):
    _fields_ = [("size", ctypes.c_size_t), ("r", ctypes.c_double), ("a", ctypes.c_double),
                ("b", ctypes.c_double)]


declare("mudsc_match_options_init", None, ctypes.POINTER(MatchOptions))
declare("mudsc_lap_solve", ctypes.c_int, I64P, DP, DP, ctypes.c_int64)
declare("mudsc_align_solve", ctypes.c_int, I64P, DP, DP, ctypes.c_int64, ctypes.c_int64,
        ctypes.c_int64)
declare("mudsc_zip_solve", ctypes.c_int, I64P, I64P, I64P, DP, DP, ctypes.c_int64,
        ctypes.c_int64, ctypes.c_int64, ctypes.POINTER(MatchOptions))


def _mat(S):
    S = np.ascontiguousarray(S, dtype=np.float64)
    return S, S.ctypes.data_as(DP)


def _i64(a):
    return a.ctypes.data_as(I64P)


def options(r=0.5, a=0.5, b=1.0):
    o = MatchOptions()
    lib.mudsc_match_options_init(ctypes.byref(o))
    o.r, o.a, o.b = r, a, b
    return o


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
