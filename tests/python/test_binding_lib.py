"""The Python binding's ctypes layer (bindings/python/mudsc/_lib.py): every
exported symbol is declared, with the header's number of parameters and
compatible types; option structs have the library's sizes; the run-time
calls work; every status maps to its exception class with the library's
message (each one raised by a real failing call where one exists)."""
import ctypes
import os

import numpy as np
import pytest

import c_api
import mudsc
from mudsc import _lib, errors

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HEADERS = os.path.join(ROOT, "include", "mudsc")


def exported_names():
    return sorted(c_api.parse_map(os.path.join(ROOT, "lib", "mudsc.map")))


SCALARS = {"int64_t": ctypes.c_int64, "int32_t": ctypes.c_int32, "size_t": ctypes.c_size_t,
           "double": ctypes.c_double, "uint32_t": ctypes.c_uint32, "uint64_t": ctypes.c_uint64,
           "int": ctypes.c_int, "unsigned": ctypes.c_uint}
FUNCTION_POINTERS = {"mudsc_log_fn": _lib.LOG_FN, "mudsc_progress_fn": _lib.PROGRESS_FN,
                     "mudsc_score_fn": _lib.SCORE_FN,
                     "mudsc_stats_point_fn": _lib.STATS_POINT_FN}


def compatible(c, ct):
    """Whether ctypes type ct can carry the C type c (a c_api.CType)."""
    if c.ptr == 0 and c.base in FUNCTION_POINTERS:
        return ct is FUNCTION_POINTERS[c.base]
    if c.ptr:
        if c.ptr == 1 and c.base == "char":
            return ct is ctypes.c_char_p
        if c.ptr == 1 and c.base in SCALARS:
            return ct is ctypes.c_void_p or getattr(ct, "_type_", None) is SCALARS[c.base]
        return ct is ctypes.c_void_p or issubclass(ct, ctypes._Pointer)
    if c.base in SCALARS:
        return ct is SCALARS[c.base]
    if c.base.startswith("mudsc_"):       # an enum
        return ct is ctypes.c_int
    return False


def test_every_exported_function_is_declared():
    assert sorted(_lib.SIGNATURES) == exported_names()


@pytest.mark.parametrize("name", exported_names())
def test_declaration_matches_header(name):
    protos = c_api.parse_headers(HEADERS).functions
    assert name in protos, f"{name} not declared in include/mudsc"
    ret, params = protos[name]
    restype, argtypes = _lib.SIGNATURES[name]
    assert len(argtypes) == len(params), (name, params)
    for k, (c_type, ct) in enumerate(zip(params, argtypes)):
        assert compatible(c_type, ct), f"{name} parameter {k}: {c_type} vs {ct}"
    if ret == c_api.CType("void"):
        assert restype is None
    else:
        assert compatible(ret, restype), f"{name} returns {ret}, declared {restype}"
    fn = getattr(_lib.lib, name)
    assert fn.restype is restype and list(fn.argtypes) == list(argtypes)


@pytest.mark.parametrize("struct", list(_lib.OPTIONS), ids=lambda s: s.__name__)
def test_option_defaults_are_what_the_library_init_writes(struct):
    init, kind = _lib.OPTIONS[struct]
    full = struct()
    _lib.check(getattr(_lib.lib, init)(ctypes.byref(full)))
    assert full.size == ctypes.sizeof(struct)
    if kind is not None:
        assert _lib.lib.mudsc_options_size(kind) == ctypes.sizeof(struct)
    assert bytes(_lib.defaults(struct)) == bytes(full)


def _tiny_mlp():
    rng = np.random.default_rng(3)
    return {"layers.0.weight": rng.standard_normal((4, 3)), "layers.0.bias": rng.standard_normal(4),
            "layers.1.weight": rng.standard_normal((2, 4)), "layers.1.bias": rng.standard_normal(2)}


LIB_PREFIX = b"lib."  # a constant: the fake init's string must outlive the call


def test_wrappers_start_from_the_library_defaults(monkeypatch):
    """A library whose defaults differ from today's: every wrapper follows it,
    none keeps a copy of its own (each fake init changes what the real one
    writes)."""
    def patched(name, **fields):
        real = getattr(_lib.lib, name)

        def init(p):
            status = real(p)
            for field, value in fields.items():
                setattr(p.contents, field, value)
            return status
        monkeypatch.setattr(_lib.lib, name, init)

    patched("mudsc_matcher_options_init", patience=7, alpha=0.25, method=1)
    patched("mudsc_mlp_options_init", prefix=LIB_PREFIX, index_step=3)
    patched("mudsc_accum_options_init", max_lead=3, nonfinite=1)
    patched("mudsc_vit_options_init", block_template=b"enc.{i}")
    patched("mudsc_resnet_options_init", norm=1, norm_groups=2)

    g = mudsc.Graph.mlp([4])
    assert g.point_names == ["lib.layers.0"]
    assert g.points[0].bindings[-1].tensor == "lib.layers.3.weight"
    assert mudsc.Graph.mlp([4], index_step=1).points[0].bindings[-1].tensor == "lib.layers.1.weight"
    assert mudsc.Graph.vit(8, 1, 2, 16).point_names == ["residual", "enc.0.attn", "enc.0.mlp"]
    assert {p.groups for p in mudsc.Graph.resnet().points} == {2}
    m = mudsc.Matcher(mudsc.Graph.mlp([4], prefix="", index_step=1), [_tiny_mlp()] * 2)
    assert (m.options.patience, m.options.alpha, m.method) == (7, 0.25, "zip")
    m = mudsc.Matcher(mudsc.Graph.mlp([4], prefix="", index_step=1), [_tiny_mlp()] * 2,
                      alpha=0.75, method="align")
    assert (m.options.patience, m.options.alpha, m.method) == (7, 0.75, "align")
    acc = mudsc.Accumulator(2, 1)
    acc.update(0, np.array([[np.nan], [1.0], [2.0]]))    # nonfinite: zero
    with pytest.raises(mudsc.StateError, match="max_lead = 3"):
        acc.update(0, np.ones((1, 1)))
    assert mudsc.accum.DEFAULT_MAX_LEAD == 16384         # read once, at import, from the real init


@pytest.mark.parametrize("struct", [s for s, (_, k) in _lib.OPTIONS.items() if k is not None],
                         ids=lambda s: s.__name__)
def test_a_newer_library_with_larger_structs(monkeypatch, struct):
    """An older binding, a newer library: the library's struct has 64 more
    bytes, which its init writes.  defaults() gives the init a buffer of the
    library's size, keeps the fields it knows and passes its own size, which
    the (real) library accepts as an older caller's."""
    init, kind = _lib.OPTIONS[struct]
    own, extra = ctypes.sizeof(struct), 64
    real_size, real_init = _lib.lib.mudsc_options_size, getattr(_lib.lib, init)
    room = []

    def newer_size(k):
        return real_size(k) + extra if k == kind else real_size(k)

    def newer_init(p):
        room.extend(ctypes.sizeof(o) for o in p._objects.values() if isinstance(o, ctypes.Array))
        status = real_init(p)
        addr = ctypes.cast(p, ctypes.c_void_p).value
        ctypes.memset(addr + own, 0xAB, extra)          # the fields this binding lacks
        ctypes.memmove(addr, ctypes.byref(ctypes.c_size_t(own + extra)), ctypes.sizeof(ctypes.c_size_t))
        return status

    monkeypatch.setattr(_lib.lib, "mudsc_options_size", newer_size)
    monkeypatch.setattr(_lib.lib, init, newer_init)
    o = _lib.defaults(struct)
    assert room == [own + extra]
    assert o.size == own
    reference = struct()
    _lib.check(real_init(ctypes.byref(reference)))
    assert bytes(o) == bytes(reference)
    # the real library takes the binding's struct (its size is a released one)
    if struct is _lib.MatcherOptions:
        mudsc.Matcher(mudsc.Graph.mlp([4]), [_tiny_mlp()] * 2).run()
    elif struct is _lib.AccumOptions:
        mudsc.Accumulator(2, 3).update(0, np.ones((2, 3)))
    elif struct is _lib.MlpOptions:
        assert len(mudsc.Graph.mlp([4, 4])) == 2
    elif struct is _lib.ResnetOptions:
        assert len(mudsc.Graph.resnet()) == 12
    else:
        assert len(mudsc.Graph.vit(8, 2, 2, 16)) == 5


def test_an_older_library_is_refused(monkeypatch):
    monkeypatch.setattr(_lib.lib, "mudsc_options_size", lambda kind: 8)
    with pytest.raises(ImportError, match="older than this binding"):
        _lib._check_abi(_lib.lib)


def test_experimental_calls_need_the_exact_release(monkeypatch):
    class Other:
        """A library of another 0.2.x release."""
        def __init__(self):
            self.__dict__.update({n: getattr(_lib.lib, n) for n in _lib.SIGNATURES})
            self.mudsc_version = lambda: _lib.VERSION_NUMBER + 1
            self.mudsc_version_string = lambda: b"0.2.1"
    other = _lib.declare(Other())
    with pytest.raises(mudsc.UnsupportedError, match="experimental.*0.2.0 only, the library is 0.2.1"):
        other.mudsc_lap_solve(None, None, None, 0)
    assert other.mudsc_accum_new is _lib.lib.mudsc_accum_new
    monkeypatch.setattr(_lib, "lib", other)
    monkeypatch.setattr(mudsc.accum, "lib", other)
    with pytest.raises(mudsc.UnsupportedError, match="mudsc_accum_set_block_rows"):
        mudsc.Accumulator(2, 3, block_rows=8)


def test_library_path_and_loading(monkeypatch):
    assert os.path.realpath(_lib.lib._name) == os.path.realpath(os.environ["MUDSC_LIBRARY"])
    again = _lib.load(os.environ["MUDSC_LIBRARY"])
    assert again.mudsc_version() == mudsc.version_number()
    with pytest.raises(OSError):
        _lib.load("/nonexistent/libmudsc.so.0")
    assert _lib._candidates()[0] == "libmudsc.so.0" or os.name != "posix"


def test_runtime_information():
    assert mudsc.version() == "0.2.0" == mudsc.__version__
    assert mudsc.version_number() == 200 == _lib.VERSION_NUMBER
    assert mudsc.blas_info()
    before = mudsc.threads()
    mudsc.set_threads(1)
    assert mudsc.threads() == 1
    mudsc.set_threads(before)
    with pytest.raises(mudsc.InvalidArgumentError):
        mudsc.set_threads(0)
    assert mudsc.status_name(-4) == "MUDSC_E_PARSE"
    assert mudsc.status_str(0)


def test_log_callback_installs_and_removes():
    got = []
    mudsc.set_log_callback(lambda level, msg: got.append((level, msg)), "debug")
    mudsc.set_log_callback(None)
    with pytest.raises(mudsc.InvalidArgumentError):
        mudsc.set_log_callback(print, "loud")


def test_status_table_is_complete():
    for status in range(-1, -15, -1):
        cls = errors.BY_STATUS[status]
        assert cls.status == status
        assert cls.name == mudsc.status_name(status)
        e = errors.from_status(status, "msg")
        assert type(e) is cls and e.message == "msg" and str(e) == f"{cls.name}: msg"
    unknown = errors.from_status(-99, "later code")
    assert type(unknown) is mudsc.MudscError and unknown.status == -99


def _g():
    return mudsc.Graph()


def _matcher():
    g = mudsc.Graph.mlp([4])
    rng = np.random.default_rng(0)
    m = {"layers.0.weight": rng.standard_normal((4, 3)), "layers.0.bias": rng.standard_normal(4),
         "layers.1.weight": rng.standard_normal((2, 4)), "layers.1.bias": rng.standard_normal(2)}
    return mudsc.Matcher(g, [m, m], progress=lambda *a: True)


def _frozen_model():
    m = mudsc.Model.from_numpy({"x": np.zeros(2)})
    m.freeze()
    return m


def _accum(width=2):
    return mudsc.Accumulator(2, width)


# status -> (a call that fails with it, a word of the library's message)
FAILING_CALLS = {
    -1: (lambda: mudsc.Accumulator(1, 4), "n_models"),
    -2: (lambda: _g().add_point("p", 0), "width"),
    -4: (lambda: mudsc.Graph.from_json("{"), "line 1"),
    -5: (lambda: mudsc.Model.load("/nonexistent/dir/m.safetensors"), "nonexistent"),
    -6: (lambda: _frozen_model().add("y", np.zeros(1)), "frozen"),
    -7: (lambda: _accum().update(0, np.array([[np.nan, 1.0]])), "model 0"),
    -8: (lambda: mudsc.Graph.mlp([2]).validate([{"layers.0.weight": np.zeros((2, 3), np.int32),
                                                  "layers.0.bias": np.zeros(2),
                                                  "layers.1.weight": np.zeros((1, 2))}]),
         "layers.0.weight"),
    -9: (lambda: _matcher().run(), "cancel"),
    -10: (lambda: mudsc.Graph.resnet("resnet99"), "resnet99"),
    -11: (lambda: [g.add_point("p", 2) for g in [_g()] for _ in range(2)], "p"),
    -12: (lambda: _accum().update(5, np.zeros((3, 2))), "model"),
    -13: (lambda: _accum(2).merge(_accum(3)), ""),
}


@pytest.mark.parametrize("status", sorted(FAILING_CALLS, reverse=True))
def test_real_failures_raise_their_class_with_the_library_message(status):
    call, word = FAILING_CALLS[status]
    cls = errors.BY_STATUS[status]
    with pytest.raises(cls) as info:
        call()
    e = info.value
    assert type(e) is cls
    assert e.status == status and e.name == mudsc.status_name(status)
    assert e.message == _lib.last_error()            # mudsc_error_message(), unchanged
    assert _lib.lib.mudsc_error_status() == status
    assert word.lower() in e.message.lower()
    assert e.message in str(e)


def test_exception_classes_are_the_expected_builtins():
    assert issubclass(mudsc.InvalidArgumentError, ValueError)
    assert issubclass(mudsc.ShapeError, ValueError)
    assert issubclass(mudsc.MismatchError, ValueError)
    assert issubclass(mudsc.OutOfMemoryError, MemoryError)
    assert issubclass(mudsc.MudscIOError, OSError)
    assert issubclass(mudsc.NumericError, ArithmeticError)
    assert issubclass(mudsc.NotFoundError, KeyError)
    assert issubclass(mudsc.RangeError, IndexError)
    for cls in errors.BY_STATUS.values():
        assert issubclass(cls, mudsc.MudscError)
    # NOMEM and INTERNAL cannot be provoked safely (an ASan build aborts on a
    # huge allocation): their mapping is checked through the table.
    assert errors.BY_STATUS[-3] is mudsc.OutOfMemoryError
    assert errors.BY_STATUS[-14] is mudsc.InternalError


def test_binding_side_errors_and_encoding():
    with pytest.raises(mudsc.InvalidArgumentError, match="NUL"):
        mudsc.Graph().add_point("a\0b", 2)
    with pytest.raises(mudsc.InvalidArgumentError, match="str"):
        mudsc.Graph().add_point(b"bytes", 2)
    g = mudsc.Graph()
    g.add_point("naïve", 2)  # UTF-8 round trip
    assert g.points[0].name == "naïve"
