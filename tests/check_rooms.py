#!/usr/bin/env python3
"""The house rules of lib/, checked mechanically.

1. Every folder of lib/ is a room with one door header, lib/<room>/<room>.h.
2. A file includes another room's headers only through that room's door
   (its own room's headers it may include directly).
3. Every global symbol of the static library is either public (in the
   version script) or carries the internal prefix mudsc__, so that no
   private name can be mistaken for the API or clash with a host's.
4. The command-line tool (tools/) is built on the public API only: it
   includes <mudsc/...> headers and its own files, never a room's, and
   names no internal (mudsc__) symbol.

Usage: check_rooms.py LIB_DIR STATIC_LIBRARY MAP
"""
import pathlib
import re
import subprocess
import sys

from c_api import parse_map

lib_dir, static_lib, mapfile = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
problems = []

rooms = sorted(p.name for p in lib_dir.iterdir() if p.is_dir())
for room in rooms:
    if not (lib_dir / room / f"{room}.h").is_file():
        problems.append(f"lib/{room}/ has no door header lib/{room}/{room}.h")

include = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
for path in sorted(lib_dir.rglob("*.[ch]")):
    rel = path.relative_to(lib_dir)
    if len(rel.parts) != 2:
        problems.append(f"lib/{rel}: every source lives in a room folder")
        continue
    room = rel.parts[0]
    for name in include.findall(path.read_text()):
        parts = name.split("/")
        if parts[0] == "mudsc":
            continue  # the public API
        if len(parts) != 2:
            problems.append(f"lib/{rel}: include \"{name}\" does not name its room")
        elif parts[0] != room and parts[1] != f"{parts[0]}.h":
            problems.append(f"lib/{rel}: includes \"{name}\"; another room is entered only "
                            f"through its door \"{parts[0]}/{parts[0]}.h\"")

tools_dir = lib_dir.parent / "tools"
internal = re.compile(r"\bmudsc__\w+")
for path in sorted(tools_dir.rglob("*.[ch]")):
    rel = path.relative_to(lib_dir.parent)
    text = path.read_text()
    own = {p.name for p in path.parent.iterdir()}
    for name in include.findall(text):
        if name not in own:
            problems.append(f"{rel}: includes \"{name}\"; the tool uses the public API "
                            "(<mudsc/mudsc.h>) and its own files only")
    for sym in sorted(set(internal.findall(text))):
        problems.append(f"{rel}: uses the internal symbol {sym}")

public = parse_map(mapfile)
nm = subprocess.run(["nm", "--defined-only", "--extern-only", static_lib], check=True,
                    capture_output=True, text=True).stdout
for line in nm.splitlines():
    fields = line.split()
    if len(fields) == 3 and fields[1] in "TDBRVW":
        # AddressSanitizer adds an ODR indicator __odr_asan.<name> beside each
        # instrumented global variable: check the variable's own name
        sym = fields[2].removeprefix("__odr_asan.")
        if sym not in public and not sym.startswith("mudsc__"):
            problems.append(f"{sym}: a global symbol of the static library that is neither "
                            "public nor prefixed mudsc__")

if problems:
    print("\n".join(problems))
    sys.exit(1)
print(f"{len(rooms)} rooms, each entered through its door; every private symbol is mudsc__")
