"""Independent safetensors reader and writer (Python standard library + NumPy).

Part of the libmudsc test oracle: it shares no code with the C library, so
files written here can be fed to the C loader and files written by the C
library can be checked here.

File layout (https://github.com/huggingface/safetensors, format section):
  8 bytes      N, the header length, unsigned 64-bit little-endian
  N bytes      UTF-8 JSON object; here padded with spaces (0x20) so that N is a
               multiple of 8 (the tensor data then starts 8-byte aligned)
  rest         the byte buffer; every tensor is C-order, little-endian, and its
               "data_offsets" [begin, end) are relative to the buffer start.
JSON: {"__metadata__": {str: str}, name: {"dtype": D, "shape": [...],
"data_offsets": [b, e]}, ...}.

Values:
- dtypes NumPy has natively are plain np.ndarray: BOOL (np.bool_), U8, I8,
  U16, I16, U32, I32, U64, I64, F16, F32, F64.
- BF16, F8_E4M3, F8_E5M2 and F8_E8M0 have no NumPy dtype. They are carried as
  `Raw(dtype, bits)`: the dtype string and an unsigned integer array of the
  raw bit patterns (uint16 for BF16, uint8 for the F8 types). `write` also
  accepts a plain tuple (dtype_str, bits) or a `dtypes={name: "BF16"}`
  override that reinterprets a uint array.

API:
  write(path, tensors, metadata=None, dtypes=None)
  read(path) -> (tensors, metadata)       (metadata is None when absent)
  header_bytes(header, pad=True)          8-byte length + JSON, for hand-made
                                          (possibly malformed) files
  write_raw(path, header, data=b"", pad=True)
                                          header (dict, str or bytes) + data
  bf16_to_f32(bits), f32_to_bf16(x)       bit conversions (round to nearest
                                          even, NaN kept NaN)
"""
import json
import struct
from collections import namedtuple

import numpy as np

# safetensors dtype name -> (NumPy storage dtype, is it "raw" bits?)
DTYPES = {
    "BOOL": (np.dtype(np.bool_), False),
    "U8": (np.dtype("<u1"), False),
    "I8": (np.dtype("<i1"), False),
    "U16": (np.dtype("<u2"), False),
    "I16": (np.dtype("<i2"), False),
    "U32": (np.dtype("<u4"), False),
    "I32": (np.dtype("<i4"), False),
    "U64": (np.dtype("<u8"), False),
    "I64": (np.dtype("<i8"), False),
    "F16": (np.dtype("<f2"), False),
    "BF16": (np.dtype("<u2"), True),
    "F32": (np.dtype("<f4"), False),
    "F64": (np.dtype("<f8"), False),
    "F8_E4M3": (np.dtype("<u1"), True),
    "F8_E5M2": (np.dtype("<u1"), True),
    "F8_E8M0": (np.dtype("<u1"), True),
}

RAW_DTYPES = tuple(k for k, (_, raw) in DTYPES.items() if raw)


class Raw(namedtuple("Raw", ["dtype", "bits"])):
    """A tensor of a dtype NumPy lacks: dtype string + raw unsigned bit array."""

    __slots__ = ()

    @property
    def shape(self):
        return self.bits.shape


def _native_name(arr):
    """safetensors name of a native NumPy array's dtype."""
    kind = arr.dtype
    if kind == np.bool_:
        return "BOOL"
    for name, (dt, raw) in DTYPES.items():
        if not raw and kind.kind == dt.kind and kind.itemsize == dt.itemsize:
            return name
    raise TypeError(f"safetensors: no safetensors dtype for NumPy dtype {kind}")


def _normalise(name, value, override):
    """Return (dtype_str, little-endian C-order storage array) for one tensor."""
    if isinstance(value, tuple) and not isinstance(value, Raw):
        value = Raw(*value)
    if isinstance(value, Raw):
        dtype = value.dtype
        bits = np.asarray(value.bits)
    elif override is not None:
        dtype = override
        bits = np.asarray(value)
    else:
        bits = np.asarray(value)
        dtype = _native_name(bits)
    if dtype not in DTYPES:
        raise ValueError(f"safetensors: tensor '{name}': unknown dtype '{dtype}'")
    store, raw = DTYPES[dtype]
    if raw or override is not None:
        # Raw bits must already have the storage width; never convert values.
        if bits.dtype.itemsize != store.itemsize or bits.dtype.kind not in "ub":
            raise TypeError(f"safetensors: tensor '{name}': dtype {dtype} needs "
                    f"{store.itemsize}-byte unsigned bits, got {bits.dtype}")
    return dtype, np.asarray(bits, dtype=store, order="C")   # keeps 0-d shape


def header_bytes(header, pad=True):
    """8-byte LE length + header JSON.

    header: a dict (serialised compactly, keys in insertion order), a str or
    bytes (used verbatim).  pad: append spaces so the JSON length is a
    multiple of 8."""
    if isinstance(header, dict):
        text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    elif isinstance(header, str):
        text = header.encode("utf-8")
    else:
        text = bytes(header)
    if pad:
        text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text


def write_raw(path, header, data=b"", pad=True):
    """Write header_bytes(header, pad) followed by the raw bytes `data`.

    For hand-made (possibly malformed) files: header may be a dict, or str /
    bytes JSON text used verbatim; nothing is checked."""
    with open(path, "wb") as f:
        f.write(header_bytes(header, pad=pad))
        f.write(bytes(data))


def write(path, tensors, metadata=None, dtypes=None):
    """Write `tensors` (dict name -> np.ndarray | Raw | (dtype, bits)) to path.

    metadata: dict str -> str stored as "__metadata__" (first key), or None.
    dtypes: optional dict name -> dtype string reinterpreting a uint array as
    BF16 / F8_* (or any dtype of the same width).
    Tensors are laid out in insertion order with contiguous data_offsets."""
    dtypes = dtypes or {}
    header = {}
    if metadata is not None:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError("safetensors: metadata must map str to str")
        header["__metadata__"] = dict(metadata)
    chunks = []
    offset = 0
    for name, value in tensors.items():
        if name == "__metadata__":
            raise ValueError("safetensors: '__metadata__' is not a tensor name")
        dtype, arr = _normalise(name, value, dtypes.get(name))
        data = arr.tobytes(order="C")
        header[name] = {"dtype": dtype, "shape": [int(d) for d in arr.shape],
                "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    with open(path, "wb") as f:
        f.write(header_bytes(header))
        for data in chunks:
            f.write(data)


def _no_duplicates(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"safetensors: duplicate header key '{k}'")
        out[k] = v
    return out


def _is_uint(x):
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def read(path):
    """Read a safetensors file -> (dict name -> np.ndarray | Raw, metadata or None).

    Checks: header length fits, header is a JSON object without duplicate keys,
    every entry has exactly dtype/shape/data_offsets of the right types, sizes
    match shape * itemsize, and the tensors tile the byte buffer exactly (no
    gap, no overlap, nothing left over).  Raises ValueError otherwise.
    Tensors are returned in header order."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError("safetensors: file shorter than 8 bytes")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > len(blob) - 8:
        raise ValueError(f"safetensors: header length {n} exceeds file size {len(blob)}")
    raw_header = blob[8:8 + n]
    if not raw_header.startswith(b"{"):
        raise ValueError("safetensors: header does not start with '{'")
    try:
        header = json.loads(raw_header.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except UnicodeDecodeError as e:
        raise ValueError(f"safetensors: header is not UTF-8: {e}") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"safetensors: header is not JSON: {e}") from None
    if not isinstance(header, dict):
        raise ValueError("safetensors: header is not a JSON object")
    buf = blob[8 + n:]
    metadata = header.pop("__metadata__", None)
    if metadata is not None:
        if not isinstance(metadata, dict) or not all(
                isinstance(v, str) for v in metadata.values()):
            raise ValueError("safetensors: __metadata__ must map str to str")
    entries = []
    for name, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise ValueError(f"safetensors: tensor '{name}': entry needs exactly "
                    "dtype, shape, data_offsets")
        dtype, shape, offs = info["dtype"], info["shape"], info["data_offsets"]
        if dtype not in DTYPES:
            raise ValueError(f"safetensors: tensor '{name}': unknown dtype {dtype!r}")
        if not isinstance(shape, list) or not all(_is_uint(d) for d in shape):
            raise ValueError(f"safetensors: tensor '{name}': bad shape {shape!r}")
        if (not isinstance(offs, list) or len(offs) != 2 or not all(_is_uint(o) for o in offs)
                or offs[0] > offs[1]):
            raise ValueError(f"safetensors: tensor '{name}': bad data_offsets {offs!r}")
        count = 1
        for d in shape:
            count *= d
        store, raw = DTYPES[dtype]
        if offs[1] - offs[0] != count * store.itemsize:
            raise ValueError(f"safetensors: tensor '{name}': {offs[1] - offs[0]} bytes "
                    f"for shape {shape} of {dtype}")
        entries.append((offs[0], offs[1], name, dtype, shape))
    # The tensors must tile the buffer: sorted by offset, each starts where
    # the previous ended, the last ends at the buffer's end.
    pos = 0
    for begin, end, name, _, _ in sorted(entries, key=lambda e: (e[0], e[1])):
        if begin != pos:
            raise ValueError(f"safetensors: tensor '{name}' starts at {begin}, expected {pos} "
                    "(gap or overlap)")
        pos = end
    if pos != len(buf):
        raise ValueError(f"safetensors: tensors cover {pos} bytes, buffer has {len(buf)}")
    tensors = {}
    for begin, end, name, dtype, shape in entries:
        store, raw = DTYPES[dtype]
        arr = np.frombuffer(buf[begin:end], dtype=store).reshape(tuple(shape)).copy()
        if dtype == "BOOL" and np.any(arr.view(np.uint8) > 1):
            raise ValueError(f"safetensors: tensor '{name}': BOOL byte not 0 or 1")
        tensors[name] = Raw(dtype, arr) if raw else arr
    return tensors, metadata


def bf16_to_f32(bits):
    """bfloat16 bit patterns (uint16) -> float32, exact."""
    bits = np.asarray(bits, dtype=np.uint16)
    return (bits.astype(np.uint32) << np.uint32(16)).view(np.float32)


def f32_to_bf16(x):
    """float32 values -> bfloat16 bit patterns (uint16), round to nearest even.

    NaN stays NaN (quiet bit set); overflow rounds to inf as IEEE rounding does."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    lsb = (u >> np.uint64(16)) & np.uint64(1)
    rounded = ((u + np.uint64(0x7FFF) + lsb) >> np.uint64(16)).astype(np.uint16)
    nan = np.isnan(np.asarray(x, dtype=np.float32))
    quiet = ((u >> np.uint64(16)) | np.uint64(0x0040)).astype(np.uint16)
    return np.where(nan, quiet, rounded).astype(np.uint16)
