"""Model: named tensors with metadata (mudsc_model), safetensors in and out.

NumPy arrays go in without a copy wherever the C API allows (the model
borrows a C-contiguous array and keeps it alive), and come out as read-only
views of the model's memory (kept alive by the view).
"""
from __future__ import annotations

import ctypes
import os
from typing import Any, Dict, Iterator, List, Mapping, NamedTuple, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt

from . import errors
from ._handle import Handle
from ._lib import MAX_RANK, Tensor, check, decode, encode, fspath, lib, take_bytes

COPY, BORROW = 0, 1
#: Model.load modes -> mudsc_load_mode (MUDSC_LOAD_MAP, MUDSC_LOAD_READ)
LOAD_MODES: Dict[str, int] = {"map": 0, "read": 1}

#: mudsc dtype code -> safetensors name ("F32", "BF16", ...), from the library
DTYPE_NAMES: Dict[int, str] = {code: lib.mudsc_dtype_name(code).decode() for code in range(16)}
DTYPE_CODES: Dict[str, int] = {name: code for code, name in DTYPE_NAMES.items()}

# The dtypes NumPy has, both ways.
_NUMPY: Dict[int, np.dtype] = {
    DTYPE_CODES[name]: np.dtype(t) for name, t in (
        ("BOOL", np.bool_), ("U8", np.uint8), ("I8", np.int8), ("U16", np.uint16),
        ("I16", np.int16), ("U32", np.uint32), ("I32", np.int32), ("U64", np.uint64),
        ("I64", np.int64), ("F16", np.float16), ("F32", np.float32), ("F64", np.float64))
}
_CODE_OF_NUMPY: Dict[np.dtype, int] = {dt: code for code, dt in _NUMPY.items()}
# NumPy has no bfloat16 or 8-bit floats: their bits as unsigned integers.
_BITS = {1: np.dtype(np.uint8), 2: np.dtype(np.uint16), 4: np.dtype(np.uint32),
         8: np.dtype(np.uint64)}


def dtype_code(dtype: Union[str, npt.DTypeLike]) -> int:
    """The mudsc dtype code of a safetensors name ("BF16") or a NumPy dtype.

    Raises NotFoundError for an unknown name, UnsupportedError for a NumPy
    dtype libmudsc has no counterpart for.
    """
    if isinstance(dtype, str) and dtype.isupper():
        out = ctypes.c_int32()
        check(lib.mudsc_dtype_from_name(ctypes.byref(out), encode(dtype, "dtype")))
        return out.value
    dt = np.dtype(dtype)
    if dt.newbyteorder("=") in _CODE_OF_NUMPY and not dt.isnative:
        raise errors.UnsupportedError.make(f"dtype {dt.str}: non-native byte order")
    if dt not in _CODE_OF_NUMPY:
        raise errors.UnsupportedError.make(f"NumPy dtype {dt} has no libmudsc dtype")
    return _CODE_OF_NUMPY[dt]


def native(arr: np.ndarray) -> np.ndarray:
    """arr, or a copy in the machine's byte order if it has the other one."""
    return arr if arr.dtype.isnative else arr.astype(arr.dtype.newbyteorder("="))


def dtype_size(code: int) -> int:
    """Bytes per element of a mudsc dtype code (0 for an unknown code)."""
    return int(lib.mudsc_dtype_size(code))


def numpy_dtype(code: int) -> Optional[np.dtype]:
    """The NumPy dtype of a mudsc dtype code, None for BF16 and the F8 types."""
    return _NUMPY.get(code)


def c_shape(shape: Tuple[int, ...]) -> ctypes.Array:
    """A C int64 array of a shape (one element at least, for rank 0)."""
    if len(shape) > MAX_RANK:
        raise errors.ShapeError.make(f"rank {len(shape)} exceeds MUDSC_MAX_RANK = {MAX_RANK}")
    return (ctypes.c_int64 * max(len(shape), 1))(*shape)


class TensorInfo(NamedTuple):
    """What the library holds for one tensor (mudsc_tensor)."""
    name: str
    dtype: str             # safetensors name: "F32", "BF16", ...
    shape: Tuple[int, ...]
    data: int              # address of the first element (0 if empty)
    nbytes: int


def readonly_view(owner: Any, address: int, nbytes: int, dtype: np.dtype,
                  shape: Tuple[int, ...]) -> np.ndarray:
    """A read-only NumPy array over library memory; the array keeps `owner`
    (whatever must stay alive for the memory to stay valid) alive."""
    if nbytes == 0:
        return np.frombuffer(b"", dtype=dtype).reshape(shape)
    buf = (ctypes.c_char * nbytes).from_address(address)
    buf._mudsc_owner = owner  # the ctypes buffer -> the handle's owner
    mem = memoryview(buf).cast("B").toreadonly()
    return np.frombuffer(mem, dtype=dtype).reshape(shape)


class Model(Handle):
    """A set of named tensors in insertion order, with string metadata.

    Build one from NumPy arrays (Model.from_numpy, add), load one from a
    safetensors file (Model.load, zero copy: the file is memory-mapped) or
    get one from a Matcher.  ``m[name]`` is a read-only NumPy view of the
    tensor's memory (zero copy).

    A model handed to a Matcher is frozen by the library (mudsc_model_freeze):
    later add(), remove() or set_metadata() raise StateError.
    """

    def __init__(self) -> None:
        """An empty model."""
        out = ctypes.c_void_p()
        check(lib.mudsc_model_new(ctypes.byref(out)))
        self._adopt(out.value, lib.mudsc_model_free)

    @classmethod
    def _wrap(cls, ptr: int, keep: Tuple[Any, ...] = ()) -> "Model":
        """A Model over a handle the library created for us."""
        m = cls.__new__(cls)
        m._adopt(ptr, lib.mudsc_model_free, keep)
        return m

    # ---- construction ----------------------------------------------------

    @classmethod
    def from_numpy(cls, tensors: Mapping[str, npt.ArrayLike], copy: bool = False) -> "Model":
        """A model of the arrays of a dict, in its order.

        copy=False (default) borrows every C-contiguous array (zero copy; the
        model keeps it alive, and it must not be modified while the model
        lives); other arrays are made contiguous once.  copy=True lets the
        library copy every array.
        """
        m = cls()
        for name, array in tensors.items():
            m.add(name, array, copy=copy)
        return m

    def add(self, name: str, array: npt.ArrayLike, copy: bool = False,
            dtype: Optional[str] = None) -> None:
        """Append a tensor (ExistsError if the name is taken).

        array: any NumPy array (or array-like) of a dtype libmudsc has.
        dtype: a safetensors name for arrays that hold another dtype's bits,
        e.g. dtype="BF16" for a uint16 array of bfloat16 bit patterns.
        copy: as in from_numpy.
        """
        arr = native(np.asarray(array))
        if dtype is None:
            code = dtype_code(arr.dtype)
        else:
            code = dtype_code(dtype)
            if dtype_size(code) != arr.itemsize:
                raise errors.InvalidArgumentError.make(
                    f"add: dtype {dtype} has {dtype_size(code)}-byte elements, the array "
                    f"{arr.itemsize}-byte ones")
        shape = c_shape(arr.shape)
        arr = np.require(arr, requirements="C")  # a copy only if not C-contiguous
        check(lib.mudsc_model_add(self._h, encode(name, "name"), code, arr.ndim, shape,
                                  arr.ctypes.data, COPY if copy else BORROW))
        if not copy:
            self._owner.keep.append(arr)

    def remove(self, name: str) -> None:
        """Remove a tensor (NotFoundError if absent)."""
        check(lib.mudsc_model_remove(self._h, encode(name, "name")))

    @classmethod
    def load(cls, path: Union[str, "os.PathLike[str]"], mode: str = "map") -> "Model":
        """Load a safetensors file.  ParseError names the rule a malformed
        file breaks; MudscIOError if unreadable.

        mode="map" (the default) memory-maps the file, zero copy: the file
        must not change in place while the model lives (truncating it kills
        the process with SIGBUS on the next read of a cut tensor; rewriting
        it in place changes the tensors silently; replacing it by rename, as
        Model.save does, is safe).  mode="read" reads the whole file into
        memory the model owns, for files that may change."""
        if mode not in LOAD_MODES:
            raise ValueError(f"mode must be 'map' or 'read', not {mode!r}")
        out = ctypes.c_void_p()
        check(lib.mudsc_model_load_mode(ctypes.byref(out), fspath(path), LOAD_MODES[mode]))
        return cls._wrap(out.value)

    @classmethod
    def from_bytes(cls, data: Union[bytes, bytearray, memoryview], copy: bool = False) -> "Model":
        """Parse safetensors bytes.  copy=False borrows the buffer (kept
        alive by the model; do not modify it); copy=True copies."""
        buf = np.frombuffer(data, dtype=np.uint8)
        out = ctypes.c_void_p()
        check(lib.mudsc_model_load_buffer(ctypes.byref(out), buf.ctypes.data if buf.size else None,
                                          buf.size, COPY if copy else BORROW))
        return cls._wrap(out.value, () if copy else (buf,))

    # ---- output ------------------------------------------------------------

    def save(self, path: Union[str, "os.PathLike[str]"],
             metadata: Optional[Mapping[str, str]] = None) -> None:
        """Write a safetensors file atomically, with the model's metadata plus
        `metadata` (which wins on equal keys; the model is not changed, so
        frozen models may be saved with extra metadata too)."""
        target = self._with_metadata(metadata) if metadata else self
        try:
            check(lib.mudsc_model_save(target._h, fspath(path)))
        finally:
            if target is not self:
                target.close()

    def to_bytes(self) -> bytes:
        """The model as safetensors bytes."""
        buf, n = ctypes.c_void_p(), ctypes.c_size_t()
        check(lib.mudsc_model_save_buffer(ctypes.byref(buf), ctypes.byref(n), self._h))
        return take_bytes(buf, n.value)

    def _with_metadata(self, metadata: Mapping[str, str]) -> "Model":
        """A new model borrowing this one's tensors, with merged metadata."""
        other = Model()
        other._owner.keep.append(self._owner)
        for t in self._tensors():
            check(lib.mudsc_model_add(other._h, t.name, t.dtype, t.rank, t.shape, t.data, BORROW))
        for key, value in {**self.metadata, **metadata}.items():
            other.set_metadata(key, value)
        return other

    # ---- reading -------------------------------------------------------------

    def _tensors(self) -> Iterator[Tensor]:
        t = Tensor()
        for i in range(lib.mudsc_model_count(self._h)):
            check(lib.mudsc_model_at(ctypes.byref(t), self._h, i))
            yield t

    def _find(self, name: str) -> Tensor:
        t = Tensor()
        check(lib.mudsc_model_find(ctypes.byref(t), self._h, encode(name, "name")))
        return t

    def names(self) -> List[str]:
        """Tensor names in insertion order."""
        return [t.name.decode() for t in self._tensors()]

    def __len__(self) -> int:
        return int(lib.mudsc_model_count(self._h))

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str) or "\0" in name:
            return False
        return lib.mudsc_model_find(None, self._h, name.encode()) == 0

    def info(self, name: str) -> TensorInfo:
        """dtype, shape and data address of a tensor (NotFoundError if absent)."""
        t = self._find(name)
        return TensorInfo(t.name.decode(), DTYPE_NAMES[t.dtype], tuple(t.shape[:t.rank]),
                          t.data or 0, t.nbytes)

    def __getitem__(self, name: str) -> np.ndarray:
        """A read-only zero-copy view of a tensor.  NotFoundError if absent;
        UnsupportedError for BF16 and F8 tensors (NumPy has no such dtype:
        use bits())."""
        t = self._find(name)
        dt = _NUMPY.get(t.dtype)
        if dt is None:
            raise errors.UnsupportedError.make(
                f"tensor {name!r} is {DTYPE_NAMES[t.dtype]}, which NumPy lacks; "
                f"Model.bits() gives its bit patterns")
        return readonly_view(self._owner, t.data or 0, t.nbytes, dt, tuple(t.shape[:t.rank]))

    def bits(self, name: str) -> np.ndarray:
        """A read-only zero-copy view of a tensor's elements as unsigned
        integers of the element size (uint16 for BF16 and F16, uint8 for F8)."""
        t = self._find(name)
        dt = _BITS[dtype_size(t.dtype)]
        return readonly_view(self._owner, t.data or 0, t.nbytes, dt, tuple(t.shape[:t.rank]))

    def to_numpy(self) -> Dict[str, np.ndarray]:
        """Every tensor NumPy can hold as a read-only zero-copy view, in order
        (BF16 and F8 tensors are skipped: see bits())."""
        return {name: self[name] for name, code in self._codes() if code in _NUMPY}

    def _codes(self) -> List[Tuple[str, int]]:
        return [(t.name.decode(), t.dtype) for t in self._tensors()]

    # ---- metadata and state --------------------------------------------------

    @property
    def metadata(self) -> Dict[str, str]:
        """A copy of the metadata, in insertion order."""
        out = {}
        key, value = ctypes.c_char_p(), ctypes.c_char_p()
        for i in range(lib.mudsc_model_meta_count(self._h)):
            check(lib.mudsc_model_meta_at(ctypes.byref(key), ctypes.byref(value), self._h, i))
            out[decode(key.value)] = decode(value.value)
        return out

    def set_metadata(self, key: str, value: str) -> None:
        """Set (or replace) a metadata entry."""
        check(lib.mudsc_model_set_meta(self._h, encode(key, "metadata key"),
                                       encode(value, "metadata value")))

    def freeze(self) -> None:
        """Make the model immutable (Matcher does this to its models)."""
        check(lib.mudsc_model_freeze(self._h))

    @property
    def frozen(self) -> bool:
        """True once frozen."""
        return bool(lib.mudsc_model_is_frozen(self._h))

    def __repr__(self) -> str:
        if self.closed:
            return "<mudsc.Model closed>"
        return f"<mudsc.Model {len(self)} tensors{' frozen' if self.frozen else ''}>"


def as_model(model: Union[Model, Mapping[str, npt.ArrayLike]]) -> Model:
    """A Model as is; a dict of arrays as a Model borrowing them."""
    return model if isinstance(model, Model) else Model.from_numpy(model)


def max_header() -> int:
    """Largest safetensors header libmudsc accepts, in bytes."""
    return int(lib.mudsc_safetensors_max_header())
