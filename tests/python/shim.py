"""Minimal ctypes access to libmudsc for the test suites.

This is test scaffolding, not the binding (bindings/python is the binding):
it loads the library meson built (MUDSC_LIBRARY, set by tests/meson.build),
raises MudscError carrying mudsc_last_error() on failure, and turns dicts of
NumPy arrays into models.  Modules per area (shim_graph.py, shim_accum.py,
...) declare their own functions on `lib` through `declare`.
"""
import ctypes
import os

import numpy as np

_path = os.environ.get("MUDSC_LIBRARY", "libmudsc.so.0")
lib = ctypes.CDLL(_path)


class MudscError(Exception):
    """A libmudsc call failed: .status is the code, str() the message."""

    def __init__(self, status, message):
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


def declare(name, restype, *argtypes):
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = list(argtypes)
    return fn


declare("mudsc_last_error", ctypes.c_char_p)
declare("mudsc_status_name", ctypes.c_char_p, ctypes.c_int)


def check(status):
    """Raise MudscError for a negative status, return it otherwise."""
    if status < 0:
        raise MudscError(lib.mudsc_status_name(status).decode(),
                         lib.mudsc_last_error().decode())
    return status


class Handle:
    """Base of the handle wrappers: frees the C object (the function named by
    _free) on close(), at the end of a with block, or when collected."""

    _free = None
    handle = None

    def close(self):
        if self.handle:
            getattr(lib, self._free)(self.handle)
            self.handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()


DTYPES = {
    np.dtype(np.bool_): 0, np.dtype(np.uint8): 1, np.dtype(np.int8): 2,
    np.dtype(np.uint16): 3, np.dtype(np.int16): 4, np.dtype(np.uint32): 5,
    np.dtype(np.int32): 6, np.dtype(np.uint64): 7, np.dtype(np.int64): 8,
    np.dtype(np.float16): 9, np.dtype(np.float32): 11, np.dtype(np.float64): 12,
}
DTYPE_NUMPY = {v: k for k, v in DTYPES.items()}
MAX_RANK = 8


class Tensor(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("dtype", ctypes.c_int), ("rank", ctypes.c_int32),
                ("shape", ctypes.c_int64 * MAX_RANK), ("data", ctypes.c_void_p),
                ("nbytes", ctypes.c_size_t)]


P = ctypes.c_void_p
declare("mudsc_model_new", ctypes.c_int, ctypes.POINTER(P))
declare("mudsc_model_free", None, P)
declare("mudsc_model_add", ctypes.c_int, P, ctypes.c_char_p, ctypes.c_int, ctypes.c_int32,
        ctypes.POINTER(ctypes.c_int64), ctypes.c_void_p, ctypes.c_int)
declare("mudsc_model_count", ctypes.c_size_t, P)
declare("mudsc_model_at", ctypes.c_int, P, ctypes.c_size_t, ctypes.POINTER(Tensor))
declare("mudsc_model_find", ctypes.c_int, P, ctypes.c_char_p, ctypes.POINTER(Tensor))
declare("mudsc_model_load", ctypes.c_int, ctypes.POINTER(P), ctypes.c_char_p)
declare("mudsc_model_save", ctypes.c_int, P, ctypes.c_char_p)


class Model(Handle):
    """A mudsc_model built from {name: ndarray} (copied), freed on close()."""
    _free = "mudsc_model_free"

    def __init__(self, tensors=None, handle=None):
        if handle is None:
            h = P()
            check(lib.mudsc_model_new(ctypes.byref(h)))
            handle = h
        self.handle = handle
        for name, arr in (tensors or {}).items():
            self.add(name, arr)

    def add(self, name, arr):
        arr = np.require(arr, requirements="C")  # ascontiguousarray would make 0-d arrays 1-d
        shape = (ctypes.c_int64 * max(arr.ndim, 1))(*arr.shape)
        check(lib.mudsc_model_add(self.handle, name.encode(), DTYPES[arr.dtype], arr.ndim, shape,
                                  arr.ctypes.data_as(ctypes.c_void_p), 0))

    @classmethod
    def load(cls, path):
        h = P()
        check(lib.mudsc_model_load(ctypes.byref(h), str(path).encode()))
        return cls(handle=h)

    def save(self, path):
        check(lib.mudsc_model_save(self.handle, str(path).encode()))

    def to_dict(self):
        """Copies of every tensor whose dtype NumPy has, in insertion order."""
        out = {}
        t = Tensor()
        for i in range(lib.mudsc_model_count(self.handle)):
            check(lib.mudsc_model_at(self.handle, i, ctypes.byref(t)))
            dt = DTYPE_NUMPY.get(t.dtype)
            if dt is None:
                continue
            shape = tuple(t.shape[:t.rank])
            buf = (ctypes.c_char * t.nbytes).from_address(t.data) if t.nbytes else b""
            out[t.name.decode()] = np.frombuffer(bytes(buf), dtype=dt).reshape(shape).copy()
        return out

