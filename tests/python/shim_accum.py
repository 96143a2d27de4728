"""ctypes access to mudsc_accum for the pytest suites (test scaffolding).

Features are passed zero-copy as NumPy views, with their element strides,
so non-contiguous views exercise the strided path.  BF16 data are uint16
arrays holding the bit patterns (NumPy has no bfloat16): pass dtype="bf16".
"""
import ctypes

import numpy as np

from shim import Handle, check, declare, lib

MAX_RANK = 8
F16, BF16, F32, F64 = 9, 10, 11, 12
_CODES = {np.dtype(np.float16): F16, np.dtype(np.float32): F32, np.dtype(np.float64): F64}


class Options(ctypes.Structure):
    _fields_ = [("size", ctypes.c_size_t), ("nonfinite", ctypes.c_int32),
                ("max_lead", ctypes.c_int64), ("block_rows", ctypes.c_int64)]


class Features(ctypes.Structure):
    _fields_ = [("dtype", ctypes.c_int), ("rank", ctypes.c_int32),
                ("shape", ctypes.c_int64 * MAX_RANK), ("strides", ctypes.POINTER(ctypes.c_int64)),
                ("feature_axis", ctypes.c_int32), ("data", ctypes.c_void_p)]


P = ctypes.c_void_p
D = ctypes.POINTER(ctypes.c_double)
declare("mudsc_accum_options_init", ctypes.c_int, ctypes.POINTER(Options))
declare("mudsc_accum_new", ctypes.c_int, ctypes.POINTER(P), ctypes.c_int32, ctypes.c_int64,
        ctypes.POINTER(Options))
declare("mudsc_accum_free", None, P)
declare("mudsc_accum_update", ctypes.c_int, P, ctypes.c_int32, ctypes.POINTER(Features))
declare("mudsc_accum_count", ctypes.c_int, P, ctypes.c_int32, ctypes.POINTER(ctypes.c_int64))
for _name in ("correlation", "covariance", "means", "stddevs"):
    declare("mudsc_accum_" + _name, ctypes.c_int, P, D, ctypes.c_size_t)
declare("mudsc_accum_merge", ctypes.c_int, P, P)
declare("mudsc_accum_serialize", ctypes.c_int, P, ctypes.POINTER(ctypes.c_void_p),
        ctypes.POINTER(ctypes.c_size_t))
declare("mudsc_accum_deserialize", ctypes.c_int, ctypes.POINTER(P), ctypes.c_char_p,
        ctypes.c_size_t, ctypes.POINTER(Options))
declare("mudsc_free", None, ctypes.c_void_p)


def options(**kw):
    o = Options()
    check(lib.mudsc_accum_options_init(ctypes.byref(o)))
    for k, v in kw.items():
        setattr(o, k, v)
    return o


def features(arr, axis=-1, dtype=None):
    """A Features view of arr (kept alive by the caller), element strides."""
    code = _CODES[arr.dtype] if dtype is None else {"bf16": BF16}[dtype]
    f = Features()
    f.dtype = code
    f.rank = arr.ndim
    for d in range(arr.ndim):
        f.shape[d] = arr.shape[d]
    strides = (ctypes.c_int64 * MAX_RANK)(*[s // arr.itemsize for s in arr.strides])
    f.strides = ctypes.cast(strides, ctypes.POINTER(ctypes.c_int64))
    f._keep = strides
    f.feature_axis = axis
    f.data = arr.ctypes.data if arr.size else None
    return f


class Accum(Handle):
    _free = "mudsc_accum_free"

    def __init__(self, n_models=None, width=None, handle=None, **opts):
        if handle is None:
            h = P()
            check(lib.mudsc_accum_new(ctypes.byref(h), n_models, width,
                                      ctypes.byref(options(**opts))))
            handle = h
            self.nc = n_models * width
        self.handle = handle

    def update(self, model, arr, axis=-1, dtype=None):
        f = features(arr, axis, dtype)
        check(lib.mudsc_accum_update(self.handle, model, ctypes.byref(f)))

    def count(self, model=-1):
        n = ctypes.c_int64()
        check(lib.mudsc_accum_count(self.handle, model, ctypes.byref(n)))
        return n.value

    def _result(self, name, size):
        out = np.zeros(size)
        check(getattr(lib, "mudsc_accum_" + name)(self.handle, out.ctypes.data_as(D), out.size))
        return out

    def correlation(self):
        return self._result("correlation", self.nc * self.nc).reshape(self.nc, self.nc)

    def covariance(self):
        return self._result("covariance", self.nc * self.nc).reshape(self.nc, self.nc)

    def means(self):
        return self._result("means", self.nc)

    def stddevs(self):
        return self._result("stddevs", self.nc)

    def merge(self, src):
        check(lib.mudsc_accum_merge(self.handle, src.handle))

    def serialize(self):
        buf, n = ctypes.c_void_p(), ctypes.c_size_t()
        check(lib.mudsc_accum_serialize(self.handle, ctypes.byref(buf), ctypes.byref(n)))
        data = ctypes.string_at(buf, n.value)
        lib.mudsc_free(buf)
        return data

    @classmethod
    def deserialize(cls, data, **opts):
        h = P()
        check(lib.mudsc_accum_deserialize(ctypes.byref(h), data, len(data),
                                          ctypes.byref(options(**opts))))
        a = cls(handle=h)
        head = np.frombuffer(data[16:32], dtype="<u8")
        a.nc = int(head[0] * head[1])
        return a

