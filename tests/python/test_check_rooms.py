"""tests/check_rooms.py finds what it is meant to find: a room without a
door, a side entrance into another room, a source outside any room and a
private global symbol without the mudsc__ prefix; a clean tree passes."""
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHECK = ROOT / "tests" / "check_rooms.py"

MAP = """MUDSC_TEST { global: mudsc_public; local: *; };\n"""


def archive(tmp, source):
    """A static library made of one C file."""
    c = tmp / "x.c"
    c.write_text(source)
    subprocess.run(["cc", "-c", "-o", str(tmp / "x.o"), str(c)], check=True)
    subprocess.run(["ar", "rcs", str(tmp / "x.a"), str(tmp / "x.o")], check=True)
    return tmp / "x.a"


def run(tmp, lib, static):
    (tmp / "m.map").write_text(MAP)
    return subprocess.run([sys.executable, str(CHECK), str(lib), str(static), str(tmp / "m.map")],
                          capture_output=True, text=True, cwd=ROOT / "tests")


def tree(tmp, files):
    lib = tmp / "lib"
    for name, text in files.items():
        (lib / name).parent.mkdir(parents=True, exist_ok=True)
        (lib / name).write_text(text)
    return lib


CLEAN = {
    "core/core.h": "",
    "core/a.c": '#include "core/core.h"\n#include "mudsc/common.h"\n',
    "model/model.h": '#include "core/core.h"\n',
    "model/private.h": "",
    "model/b.c": '#include "model/private.h"\n#include "core/core.h"\n',
}


def test_clean_tree_passes(tmp_path):
    static = archive(tmp_path, "int mudsc_public(void) { return 0; }\n"
                               "int mudsc__helper(void) { return 1; }\n"
                               "static int local_one(void) { return 2; }\n")
    r = run(tmp_path, tree(tmp_path, CLEAN), static)
    assert r.returncode == 0, r.stdout


@pytest.mark.parametrize("files, symbol, expect", [
    ({"graph/x.c": ""}, None, "lib/graph/ has no door header"),
    ({"graph/graph.h": "", "graph/x.c": '#include "model/private.h"\n'}, None,
     'lib/graph/x.c: includes "model/private.h"'),
    ({"graph/graph.h": "", "graph/x.c": '#include "private.h"\n'}, None,
     'include "private.h" does not name its room'),
    ({"loose.c": ""}, None, "lib/loose.c: every source lives in a room folder"),
    ({}, "int helper_without_prefix(void) { return 0; }\n", "helper_without_prefix"),
])
def test_each_mistake_is_reported(tmp_path, files, symbol, expect):
    static = archive(tmp_path, symbol or "int mudsc_public(void) { return 0; }\n")
    r = run(tmp_path, tree(tmp_path, {**CLEAN, **files}), static)
    assert r.returncode == 1
    assert expect in r.stdout, r.stdout

