"""Safetensors files written by an independent writer (tests/oracle/safetensors_np.py,
standard library + NumPy) load in libmudsc with the same names, dtypes, shapes and
bytes, and what libmudsc saves reads back identically in the independent reader."""
import ctypes

import numpy as np
import pytest

import safetensors_np as stnp
from mudsc import Model, MudscError
from mudsc.model import DTYPE_NAMES

DTYPE_CODES = ["BOOL", "U8", "I8", "U16", "I16", "U32", "I32", "U64", "I64", "F16", "BF16",
               "F32", "F64", "F8_E4M3", "F8_E5M2", "F8_E8M0"]


def every_dtype_tensors(rng):
    t = {}
    for name in DTYPE_CODES:
        dt, raw = stnp.DTYPES[name]
        shape = (3, 2, 1)
        if name == "BOOL":
            arr = rng.integers(0, 2, shape).astype(np.bool_)
        elif dt.kind == "f":
            arr = rng.standard_normal(shape).astype(dt)
        else:
            info = np.iinfo(dt)
            arr = rng.integers(info.min, info.max, shape, dtype=dt, endpoint=True)
        t["w." + name] = stnp.Raw(name, arr) if raw else arr
    t["bn.num_batches_tracked"] = np.array(123456789012, dtype=np.int64)  # rank 0
    t["empty"] = np.zeros((0, 4), np.float32)
    return t


def raw_bytes(value):
    arr = value.bits if isinstance(value, stnp.Raw) else value
    return np.ascontiguousarray(arr).tobytes()


def test_independent_file_loads_in_c_and_round_trips(tmp_path):
    rng = np.random.default_rng(7)
    tensors = every_dtype_tensors(rng)
    meta = {"format": "pt", "note": "written by safetensors_np"}
    stnp.write(tmp_path / "a.safetensors", tensors, metadata=meta)

    # the library's dtype codes are the ABI's (info() reports a code by its name)
    assert [DTYPE_NAMES[code] for code in range(len(DTYPE_CODES))] == DTYPE_CODES
    with Model.load(tmp_path / "a.safetensors") as m:
        assert len(m) == len(tensors)
        for name, value in tensors.items():
            t = m.info(name)
            arr = value.bits if isinstance(value, stnp.Raw) else value
            dtype = value.dtype if isinstance(value, stnp.Raw) else stnp._native_name(arr)
            assert t.dtype == dtype
            assert t.shape == arr.shape
            got = ctypes.string_at(t.data, t.nbytes) if t.nbytes else b""
            assert got == raw_bytes(value), name
        m.save(tmp_path / "b.safetensors")

    back, back_meta = stnp.read(tmp_path / "b.safetensors")
    assert back_meta == meta
    assert list(back) == list(tensors)  # insertion order kept
    for name, value in tensors.items():
        assert raw_bytes(back[name]) == raw_bytes(value), name


@pytest.mark.parametrize("header, data, fragment", [
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4, "need 8"),
    ({"a": {"dtype": "Q8", "shape": [1], "data_offsets": [0, 1]}}, b"\0", "Q8"),
    ({"__metadata__": {"k": ["v"]}}, b"", "'k'"),
])
def test_independent_malformed_files_are_rejected(tmp_path, header, data, fragment):
    path = tmp_path / "bad.safetensors"
    stnp.write_raw(path, header, data)
    with pytest.raises(MudscError) as err:
        Model.load(path)
    assert err.value.name == "MUDSC_E_PARSE"
    assert fragment in err.value.message and "bad.safetensors" in err.value.message
