"""The shape rules of the public headers (include/mudsc/common.h,
"Conventions of every call"), checked on every declaration: out-parameters
first, one sizing rule for array getters (and tests/test_getters.c covers
every such getter), int32_t model counts, const models, int32_t enum fields
and a leading size in every options struct."""
import pathlib
import re

import c_api

ROOT = pathlib.Path(__file__).resolve().parents[2]
HEADERS = ROOT / "include" / "mudsc"


def declarations():
    """name -> [(parameter name, declaration text)] of every MUDSC_API function."""
    out = {}
    for path in sorted(HEADERS.glob("*.h")):
        body, defines = c_api.strip_c(path.read_text())
        for stmt in c_api.split_top(body, ";", "{", "}"):
            s = " ".join(stmt.split())
            m = re.match(r".*\bMUDSC_API\s+.+?\b(mudsc_\w+)\s*\((.*)\)$", s)
            if not m or m.group(2).strip() in ("", "void"):
                continue
            params = [p.strip() for p in c_api.split_top(m.group(2))]
            out[m.group(1)] = [(c_api.parse_c_decl(p, defines)[0], p) for p in params]
    return out


DECLS = declarations()


def is_out(name):
    return name == "out" or name.startswith("out_") or name in ("needed", "capacity")


def test_out_parameters_come_first():
    for fn, params in DECLS.items():
        names = [n for n, _ in params]
        first_other = next((k for k, n in enumerate(names) if not is_out(n)), len(names))
        late = [n for n in names[first_other:] if is_out(n)]
        assert not late, f"{fn}: out-parameters {late} after {names[:first_other + 1]}"


def array_getters():
    return {fn for fn, params in DECLS.items() if any(n == "capacity" for n, _ in params)}


def test_every_array_getter_has_the_one_sizing_rule():
    getters = array_getters()
    assert len(getters) == 15
    for fn in getters:
        (out, out_decl), (cap, cap_decl), (needed, needed_decl) = DECLS[fn][:3]
        assert (out, cap, needed) == ("out", "capacity", "needed"), fn
        assert out_decl.count("*") == 1 and cap_decl == "size_t capacity" and \
            needed_decl == "size_t *needed", fn


def test_the_c_getter_test_covers_every_array_getter():
    text = (ROOT / "tests" / "test_getters.c").read_text()
    table = text[text.index("static const struct getter getters[]"):]
    table = table[:table.index("};")]
    assert set(re.findall(r'\{"(mudsc_\w+)"', table)) == array_getters()


def test_model_counts_are_int32_and_models_const():
    seen = 0
    for fn, params in DECLS.items():
        for name, decl in params:
            if name == "n_models":
                seen += 1
                assert decl == "int32_t n_models", f"{fn}: {decl}"
            if "mudsc_model *const *" in decl:
                assert decl.startswith("const mudsc_model *const *"), f"{fn}: {decl}"
    assert seen >= 3  # accum_new, graph_validate, matcher_new


def test_struct_fields_are_fixed_width_and_options_start_with_size():
    api = c_api.parse_headers(str(HEADERS))
    for struct, fields in api.structs.items():
        for field, ctype in fields:
            assert ctype.base not in api.enums or ctype.ptr, f"{struct}.{field} is an enum"
        if struct.endswith("_options"):
            assert fields[0] == ("size", c_api.CType("size_t")), struct
