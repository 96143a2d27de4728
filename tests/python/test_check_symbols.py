"""tests/check_symbols.py finds what it is meant to find: a symbol in the
wrong version node, a stable declaration in experimental.h (or the other way
round), a wrongly named experimental node and a stable node that does not
inherit its predecessor; the real library, map and headers pass."""
import importlib.util
import os
import pathlib
import shutil

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
HEADERS = ROOT / "include" / "mudsc"
MAP = ROOT / "lib" / "mudsc.map"
LIB = os.environ["MUDSC_LIBRARY"]
VERSION = "0.2.0"

_spec = importlib.util.spec_from_file_location("check_symbols", ROOT / "tests" / "check_symbols.py")
checker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(checker)


def run(mapfile=MAP, headers=HEADERS, version=VERSION):
    return checker.check(LIB, str(mapfile), str(headers), version)[0]


def edited_map(tmp_path, old, new):
    text = MAP.read_text()
    assert old in text
    path = tmp_path / "edited.map"
    path.write_text(text.replace(old, new))
    return path


def test_real_library_map_and_headers_pass():
    problems, summary = checker.check(LIB, str(MAP), str(HEADERS), VERSION)
    assert problems == []
    assert "experimental" in summary and "MUDSC_0.2.0" in summary


def test_symbol_in_the_wrong_node(tmp_path):
    mapfile = edited_map(tmp_path, "\tmudsc_lap_solve;\n", "")
    mapfile.write_text(mapfile.read_text().replace("\tmudsc_accum_width;\n",
                                                   "\tmudsc_accum_width;\n\tmudsc_lap_solve;\n"))
    problems = run(mapfile)
    assert any("mudsc_lap_solve: exported with version MUDSC_EXPERIMENTAL_0.2.0, the map puts "
               "it in MUDSC_0.2.0" in p for p in problems), problems
    assert any("mudsc_lap_solve: declared in experimental.h but not in the experimental node"
               in p for p in problems), problems


def test_stable_declaration_in_the_experimental_header(tmp_path):
    headers = tmp_path / "include"
    shutil.copytree(HEADERS, headers)
    exp = headers / "experimental.h"
    exp.write_text(exp.read_text().replace(
        "MUDSC_END_DECLS",
        "MUDSC_API int32_t mudsc_accum_models(const mudsc_accum *accum);\nMUDSC_END_DECLS"))
    problems = run(headers=headers)
    assert any("mudsc_accum_models: declared in experimental.h and in a stable header" in p
               for p in problems), problems


def test_experimental_declaration_in_a_stable_header(tmp_path):
    headers = tmp_path / "include"
    shutil.copytree(HEADERS, headers)
    exp = headers / "experimental.h"
    text = exp.read_text()
    start = text.index("MUDSC_API mudsc_status mudsc_lap_solve")
    end = text.index(";", start) + 1
    exp.write_text(text[:start] + text[end:])
    common = headers / "common.h"
    common.write_text(common.read_text().replace("MUDSC_END_DECLS", text[start:end] + "\nMUDSC_END_DECLS"))
    problems = run(headers=headers)
    assert any("mudsc_lap_solve: declared in common.h (stable) but not in a stable node" in p
               for p in problems), problems


def test_experimental_node_is_named_after_the_release():
    problems = run(version="0.3.0")
    assert problems == ["experimental nodes ['MUDSC_EXPERIMENTAL_0.2.0']: expected exactly "
                        "MUDSC_EXPERIMENTAL_0.3.0 (renamed by every release)"]


def test_a_later_stable_node_inherits_the_one_before(tmp_path):
    mapfile = edited_map(tmp_path, "MUDSC_EXPERIMENTAL_0.2.0 {",
                         "MUDSC_0.3.0 {\nglobal:\n\tmudsc_nothing_yet;\n};\n\n"
                         "MUDSC_EXPERIMENTAL_0.2.0 {")
    problems = run(mapfile, version="0.2.0")
    assert "node MUDSC_0.3.0 must inherit MUDSC_0.2.0 ('} MUDSC_0.2.0;')" in problems
    assert "stable node MUDSC_0.3.0 is newer than the release 0.2.0" in problems
    assert any("in the map but not exported: ['mudsc_nothing_yet']" in p for p in problems)


@pytest.mark.parametrize("name", ["MUDSC_0", "LIBMUDSC_0.2.0"])
def test_unknown_node_names(tmp_path, name):
    mapfile = edited_map(tmp_path, "MUDSC_0.2.0 {", f"{name} {{")
    problems = run(mapfile)
    assert f"node {name}: neither MUDSC_x.y.z nor MUDSC_EXPERIMENTAL_x.y.z" in problems
