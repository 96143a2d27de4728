"""mudsc.Model: zero-copy borrowing (the library's tensor address is the NumPy
buffer's), zero-copy read-only views, save/load round trips (file and bytes,
with metadata), freezing, closing, and the error paths."""
import gc

import numpy as np
import pytest

import mudsc
import safetensors_np

ALL_DTYPES = [np.bool_, np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32, np.uint64,
              np.int64, np.float16, np.float32, np.float64]


def sample(seed=0):
    rng = np.random.default_rng(seed)
    return {"w": rng.standard_normal((4, 3)).astype(np.float32),
            "b": rng.standard_normal(4),
            "scalar": np.array(2.5, dtype=np.float64),
            "empty": np.zeros((0, 5), dtype=np.float32),
            "count": np.array(7, dtype=np.int64)}


def test_from_numpy_borrows_contiguous_arrays():
    arrays = sample()
    m = mudsc.Model.from_numpy(arrays)
    assert m.names() == list(arrays) and len(m) == len(arrays)
    for name, arr in arrays.items():
        info = m.info(name)
        assert info.shape == arr.shape and info.nbytes == arr.nbytes
        if arr.size:
            assert info.data == arr.ctypes.data  # the library holds the NumPy buffer itself
        view = m[name]
        if arr.size:
            assert view.ctypes.data == arr.ctypes.data  # and hands it back without a copy
        assert view.dtype == arr.dtype and view.shape == arr.shape
        np.testing.assert_array_equal(view, arr)
        assert not view.flags.writeable
        with pytest.raises(ValueError):
            view.flags.writeable = True


def test_arrays_stay_alive_while_borrowed():
    m = mudsc.Model.from_numpy({"x": np.arange(1000, dtype=np.float64)})
    gc.collect()
    np.testing.assert_array_equal(m["x"], np.arange(1000))


def test_copy_and_non_contiguous_inputs():
    base = np.arange(24, dtype=np.float32).reshape(4, 6)
    m = mudsc.Model.from_numpy({"c": base}, copy=True)
    assert m.info("c").data != base.ctypes.data
    np.testing.assert_array_equal(m["c"], base)
    strided = base[:, ::2]
    m2 = mudsc.Model.from_numpy({"s": strided, "t": base.T, "be": base.astype(">f4")})
    np.testing.assert_array_equal(m2["s"], strided)
    np.testing.assert_array_equal(m2["t"], base.T)
    np.testing.assert_array_equal(m2["be"], base)
    assert m2.info("be").dtype == "F32"


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_every_numpy_dtype_round_trips(dtype, tmp_path):
    arr = (np.arange(6) % 3).astype(dtype).reshape(2, 3)
    m = mudsc.Model.from_numpy({"t": arr})
    m.save(tmp_path / "m.safetensors")
    back = mudsc.Model.load(tmp_path / "m.safetensors")
    assert back["t"].dtype == np.dtype(dtype)
    np.testing.assert_array_equal(back["t"], arr)


def test_save_load_round_trip_with_metadata(tmp_path):
    arrays = sample(1)
    m = mudsc.Model.from_numpy(arrays)
    m.set_metadata("format", "pt")
    path = tmp_path / "model.safetensors"
    m.save(path, metadata={"note": "merged", "format": "np"})
    assert m.metadata == {"format": "pt"}  # save() does not change the model
    with mudsc.Model.load(path) as back:
        assert back.names() == list(arrays)
        assert back.metadata == {"format": "np", "note": "merged"}
        for name, arr in arrays.items():
            np.testing.assert_array_equal(back[name], arr)
        # the independent reader agrees with the bytes on disk
        tensors, meta = safetensors_np.read(path)
        assert meta == {"format": "np", "note": "merged"}
        np.testing.assert_array_equal(tensors["w"], arrays["w"])


def test_bytes_round_trip_borrowed_and_copied():
    arrays = sample(2)
    data = mudsc.Model.from_numpy(arrays).to_bytes()
    for copy in (False, True):
        m = mudsc.Model.from_bytes(data, copy=copy)
        for name, arr in arrays.items():
            np.testing.assert_array_equal(m[name], arr)
        start = np.frombuffer(data, np.uint8).ctypes.data
        inside = start <= m.info("w").data < start + len(data)
        assert inside == (not copy)
    with pytest.raises(mudsc.ParseError):
        mudsc.Model.from_bytes(b"\x01\x00")


def test_bf16_bits_and_explicit_dtype():
    bits = np.array([0x3F80, 0x4000, 0xC040], dtype=np.uint16)  # 1, 2, -3 in bfloat16
    m = mudsc.Model()
    m.add("h", bits, dtype="BF16")
    assert m.info("h").dtype == "BF16" and m.info("h").data == bits.ctypes.data
    with pytest.raises(mudsc.UnsupportedError, match="bits"):
        m["h"]
    np.testing.assert_array_equal(m.bits("h"), bits)
    assert "h" not in m.to_numpy()
    with pytest.raises(mudsc.InvalidArgumentError):
        m.add("bad", np.zeros(2, np.float32), dtype="BF16")
    with pytest.raises(mudsc.NotFoundError):
        m.add("bad", bits, dtype="F17")


def test_container_protocol_and_remove():
    m = mudsc.Model.from_numpy(sample())
    assert "w" in m and "nope" not in m and 3 not in m and "a\0" not in m
    assert list(m) == m.names()
    assert set(m.to_numpy()) == set(m.names())
    m.remove("w")
    assert "w" not in m
    with pytest.raises(mudsc.NotFoundError) as e:
        m.remove("w")
    assert isinstance(e.value, KeyError)
    with pytest.raises(mudsc.NotFoundError):
        m["w"]
    with pytest.raises(mudsc.ExistsError):
        m.add("b", np.zeros(1))
    with pytest.raises(mudsc.UnsupportedError):
        m.add("c", np.zeros(2, np.complex64))
    with pytest.raises(mudsc.ShapeError):
        m.add("deep", np.zeros((1,) * 9))


def test_freeze_and_frozen_save_with_metadata(tmp_path):
    m = mudsc.Model.from_numpy({"x": np.ones(3)})
    assert not m.frozen
    m.freeze()
    assert m.frozen
    with pytest.raises(mudsc.StateError):
        m.add("y", np.zeros(1))
    with pytest.raises(mudsc.StateError):
        m.set_metadata("k", "v")
    m.save(tmp_path / "f.safetensors", metadata={"k": "v"})
    assert mudsc.Model.load(tmp_path / "f.safetensors").metadata == {"k": "v"}


def test_close_and_views_outliving_the_model():
    m = mudsc.Model.from_numpy({"x": np.arange(5.0)})
    view = m["x"]
    with m:
        assert not m.closed
    assert m.closed and "closed" in repr(m)
    with pytest.raises(mudsc.StateError, match="closed"):
        m.names()
    gc.collect()
    np.testing.assert_array_equal(view, np.arange(5.0))  # the view kept the handle alive
    m.close()  # twice is fine
    loaded_view = None
    with mudsc.Model.from_numpy({"y": np.arange(3.0)}) as m2:
        loaded_view = m2.to_numpy()["y"]
    del m2
    gc.collect()
    np.testing.assert_array_equal(loaded_view, np.arange(3.0))


def test_load_errors(tmp_path):
    with pytest.raises(mudsc.MudscIOError) as e:
        mudsc.Model.load(tmp_path / "missing.safetensors")
    assert isinstance(e.value, OSError)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}      ")
    with pytest.raises(mudsc.ParseError):
        mudsc.Model.load(bad)
    assert mudsc.model.max_header() == 100_000_000


def test_load_read_mode_is_not_changed_by_the_file(tmp_path):
    """mode="read" owns its bytes: a rewrite in place and a truncation of the
    file after loading do not reach the tensors (issue 11, defect 9)."""
    arr = np.arange(4096, dtype=np.float32)
    path = tmp_path / "m.safetensors"
    mudsc.Model.from_numpy({"w": arr}).save(path)
    with mudsc.Model.load(path, mode="read") as m:
        size = path.stat().st_size
        with open(path, "r+b") as f:  # in place: same inode
            f.seek(size - 4 * 4096)
            f.write(b"\x55" * (4 * 4096))
            f.truncate(16)
        np.testing.assert_array_equal(m["w"], arr)
    other = tmp_path / "m2.safetensors"
    mudsc.Model.from_numpy({"w": arr}).save(other)
    with mudsc.Model.load(other, mode="map") as m2:
        np.testing.assert_array_equal(m2["w"], arr)
    with pytest.raises(ValueError, match="'map' or 'read'"):
        mudsc.Model.load(path, mode="copy")
    with pytest.raises(mudsc.ParseError):
        mudsc.Model.load(path, mode="read")
