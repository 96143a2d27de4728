"""tests/check_julia_bindings.py finds what it is meant to find: each kind of
wrong ccall, struct mirror and callback is reported, with its line, and the
real binding passes."""
import importlib.util
import pathlib
import shutil

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
HEADERS = ROOT / "include" / "mudsc"
MAP = ROOT / "lib" / "mudsc.map"
BINDING = ROOT / "bindings" / "julia"

_spec = importlib.util.spec_from_file_location("check_julia_bindings",
                                               ROOT / "tests" / "check_julia_bindings.py")
checker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(checker)

# One mistake a line (line numbers are asserted below).
BAD = """\
f1(m) = ccall((:mudsc_model_count, libmudsc), Csize_t, (Ptr{Cvoid}, Cint), m, 1)
f2(m) = ccall((:mudsc_model_count, libmudsc), Csize_t, (Ptr{Cvoid},), m, 2)
f3(g, i) = ccall((:mudsc_graph_add_point, libmudsc), Cint, (Ref{Csize_t}, Ptr{Cvoid}, Cstring, Int32, Int64), i, g, "x", 1, 1)
f4() = ccall((:mudsc_no_such_function, libmudsc), Cint, ())
f5() = ccall((:mudsc_version_string, libmudsc), Cint, ())
f6(a, o) = ccall((:mudsc_accum_means, libmudsc), Cint, (Ptr{Cvoid}, Csize_t, Ptr{Csize_t}, Ptr{Cvoid}), o, 1, C_NULL, a)
f7(m) = ccall((:mudsc_model_count, "libmudsc.so.0"), Csize_t, (Ptr{Cvoid},), m)
f8(a) = ccall((:mudsc_accum_count, libmudsc), Cint, (Ref{Int32}, Ptr{Cvoid}, Int32), Ref{Int32}(0), a, 0)
f9(t) = ccall((:mudsc_model_at, libmudsc), Cint, (Ref{mudsc_nothing}, Ptr{Cvoid}, Csize_t), t, C_NULL, 0)
f10() = @cfunction(cb, Cint, (Int32, Int32, Cdouble, Ptr{Cvoid}))
f11() = @ccall libmudsc.mudsc_version()::Cuint
f12(s) = ccall((:mudsc_dtype_from_name, libmudsc), Cint, (Ref{Cint}, Ptr{Cvoid}), Ref{Cint}(0), s)
# ccall((:mudsc_not_checked, libmudsc), Cint, ()) in a comment is not a call
g() = "ccall((:mudsc_not_checked_either, libmudsc), Cint, ())"
struct mudsc_accum_options
    size::Csize_t
    max_lead::Int64
    nonfinite::Int32
    threads::Int64
end
mutable struct mudsc_split_info
    tensor::Ref{UInt8}
    axis::Int32
    part_count::Csize_t
end
struct mudsc_not_in_c
    x::Int32
end
f29(x, S) = ccall((:mudsc_lap_solve, libmudsc), Cint, (Ptr{Int64}, Ptr{Cdouble}, Ptr{Cdouble}, Int64), x, C_NULL, S, 0)
"""

EXPECTED = [
    (1, "mudsc_model_count: 2 argument types, the C function has 1 parameters"),
    (2, "mudsc_model_count: passes 2 arguments for 1 types"),
    (3, "mudsc_graph_add_point: argument 4 type Int32 vs C int64_t"),
    (4, "mudsc_no_such_function: not declared MUDSC_API"),
    (4, "mudsc_no_such_function: not listed in the export map"),
    (5, "mudsc_version_string: return type Cint vs C char *"),
    (6, "mudsc_accum_means: argument 1 type Ptr{Cvoid} vs C double *"),
    (7, "ccall target '(:mudsc_model_count, \"libmudsc.so.0\")' is not (:symbol, libmudsc)"),
    (8, "mudsc_accum_count: argument 1 type Ref{Int32} vs C int64_t *"),
    (9, "mudsc_model_at: argument 1 type Ref{mudsc_nothing} vs C mudsc_tensor *"),
    (10, "@cfunction(cb, Cint, (Int32, Int32, Cdouble, Ptr{Cvoid})) matches no function-pointer"),
    (11, "@ccall is not checked"),
    (12, "mudsc_dtype_from_name: argument 2 type Ptr{Cvoid} vs C char *: expected one of"),
    (15, "struct mudsc_accum_options: field 2 is max_lead, C has nonfinite"),
    (15, "struct mudsc_accum_options: field threads type Int64 vs C int32_t"),
    (21, "struct mudsc_split_info: a mirror must be immutable"),
    (21, "struct mudsc_split_info: 3 fields, C has 5"),
    (21, "struct mudsc_split_info: field tensor type Ref{UInt8} vs C char *: Ref is only for ccall"),
    (26, "struct mudsc_not_in_c: no such struct in the headers"),
    (29, "mudsc_lap_solve: experimental (experimental.h); the binding covers the stable"),
]


def run(tmp_path, files, mapfile=MAP):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return checker.check(str(tmp_path), str(HEADERS), str(mapfile))


def test_real_binding_passes():
    problems, notes = checker.check(str(BINDING), str(HEADERS), str(MAP))
    assert problems == []
    assert notes[0].startswith(tuple(f"{n} ccalls" for n in range(60, 200)))


@pytest.fixture
def with_binding(tmp_path):
    """A copy of the real binding: complete lifecycle and mirrors."""
    shutil.copytree(BINDING / "Mudsc" / "src", tmp_path / "src")
    return tmp_path


def test_each_mistake_is_reported_at_its_line(with_binding):
    src = with_binding / "src"
    # the bad mirrors replace the real ones
    for f in ("capi.jl",):
        text = (src / f).read_text()
        for struct in ("mudsc_accum_options", "mudsc_split_info"):
            start = text.index(f"struct {struct}\n")
            end = text.index("end\n", start) + 4
            text = text[:start] + text[end:]
        (src / f).write_text(text)
    problems, _ = run(src, {"bad.jl": BAD})
    bad = str(src / "bad.jl")
    for line, message in EXPECTED:
        hits = [p for p in problems if p.startswith(f"{bad}:{line}: ") and message in p]
        assert hits, f"line {line}: {message!r} not reported; got:\n" + "\n".join(problems)
    assert not any("mudsc_not_checked" in p for p in problems)
    lines = {int(p[len(bad) + 1:].split(":")[0]) for p in problems if p.startswith(bad)}
    assert lines == {line for line, _ in EXPECTED}
    # every problem is in bad.jl: the real files are clean
    assert all(p.startswith(bad) for p in problems), "\n".join(problems)


def test_symbol_missing_from_the_map(tmp_path, with_binding):
    mapfile = tmp_path / "short.map"
    mapfile.write_text(MAP.read_text().replace("\tmudsc_accum_width;\n", ""))
    problems, _ = checker.check(str(with_binding), str(HEADERS), str(mapfile))
    assert len(problems) == 1
    assert "mudsc_accum_width: not listed in the export map" in problems[0]


def test_missing_lifecycle_fails(tmp_path):
    problems, notes = run(tmp_path, {"tiny.jl": BAD.splitlines()[0] + "\n"})
    missing = {p.split(": ")[1] for p in problems if "a handle's lifecycle" in p}
    assert {"mudsc_model_new", "mudsc_model_free", "mudsc_model_load", "mudsc_matcher_merge",
            "mudsc_accum_deserialize", "mudsc_error_message", "mudsc_free"} <= missing
    assert "mudsc_log_set_callback" not in missing   # not part of the rule
    assert any("not wrapped (allowed)" in n for n in notes)


def test_command_line_exit_status(tmp_path, capsys):
    assert checker.main(["x", str(BINDING), str(HEADERS), str(MAP)]) == 0
    (tmp_path / "bad.jl").write_text(BAD)
    assert checker.main(["x", str(tmp_path), str(HEADERS), str(MAP)]) == 1
    assert "problems" in capsys.readouterr().out


def test_c_declarations_parse_across_lines():
    api = checker.parse_headers(str(HEADERS))
    ret, params = api.functions["mudsc_matcher_new"]
    assert ret == checker.CType("mudsc_status")
    assert params == [checker.CType("mudsc_matcher", 2), checker.CType("mudsc_graph", 1),
                      checker.CType("mudsc_model", 2), checker.CType("int32_t"),
                      checker.CType("mudsc_matcher_options", 1)]
    assert api.functions["mudsc_error_message"] == (checker.CType("char", 1), [])
    assert dict(api.structs["mudsc_tensor"])["shape"] == checker.CType("int64_t", 0, 8)
    assert api.fnptrs["mudsc_progress_fn"][1][0] == checker.CType("int64_t")
    assert {"mudsc_model", "mudsc_graph", "mudsc_accum", "mudsc_matcher"} <= api.opaque
