#!/usr/bin/env python3
"""The shared library exports exactly the names of lib/mudsc.map, all
prefixed mudsc_, and every MUDSC_API declaration of the public headers is
in the map.  Usage: check_symbols.py LIBRARY MAP HEADER_DIR"""
import subprocess
import sys

from c_api import parse_headers, parse_map

lib, mapfile, header_dir = sys.argv[1:4]
listed = parse_map(mapfile)

nm = subprocess.run(["nm", "-D", "--defined-only", lib], check=True, capture_output=True,
                    text=True).stdout
exported = set()
for line in nm.splitlines():
    parts = line.split()
    if len(parts) == 3 and parts[1] in "TDBRVWi":
        exported.add(parts[2].split("@")[0])

declared = set(parse_headers(header_dir).functions)

problems = []
if exported != listed:
    problems.append(f"exported but not in the map: {sorted(exported - listed)}")
    problems.append(f"in the map but not exported: {sorted(listed - exported)}")
bad_prefix = sorted(s for s in exported if not s.startswith("mudsc_"))
if bad_prefix:
    problems.append(f"exported without the mudsc_ prefix: {bad_prefix}")
if declared != listed:
    problems.append(f"declared MUDSC_API but not in the map: {sorted(declared - listed)}")
    problems.append(f"in the map but declared in no header: {sorted(listed - declared)}")
if problems:
    print("\n".join(problems))
    sys.exit(1)
print(f"{len(exported)} symbols: exports == map == header declarations")
