#!/usr/bin/env python3
"""libmudsc-mpi exports exactly what its version script lists, each at its
node, and that is exactly the MUDSC_API functions of mudsc_mpi.h.

Usage: check_mpi_symbols.py LIBRARY MAP HEADER
"""
import re
import subprocess
import sys


def main(lib, map_path, header):
    nm = subprocess.run(["nm", "-D", "--defined-only", "--with-symbol-versions", lib],
                        check=True, capture_output=True, text=True).stdout
    exported = {}
    for line in nm.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TWDBR" and "@" in parts[2]:
            name, _, node = parts[2].partition("@@")
            if not node:
                name, _, node = parts[2].partition("@")
            if node != parts[2]:
                exported[name] = node
    exported = {k: v for k, v in exported.items() if not v.startswith("GLIBC")}
    text = open(map_path).read()
    m = re.search(r"(MUDSC_MPI_[0-9.]+)\s*\{\s*global:(.*?)local:", text, re.S)
    node, listed = m.group(1), set(re.findall(r"\b(mudsc_mpi_\w+)\s*;", m.group(2)))
    declared = set(re.findall(r"\bMUDSC_API\s+[^;]*?\b(mudsc_\w+)\s*\(", open(header).read()))
    problems = []
    if set(exported) != listed:
        problems.append(f"exported {sorted(exported)} != map {sorted(listed)}")
    if declared != listed:
        problems.append(f"declared {sorted(declared)} != map {sorted(listed)}")
    problems += [f"{k} is at {v}, not {node}" for k, v in exported.items() if v != node]
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
