#!/usr/bin/env python3
"""The shared library's exports against the version script and the headers.

Usage: check_symbols.py LIBRARY MAP HEADER_DIR VERSION

- the library exports exactly the names of MAP, all prefixed mudsc_, and
  every MUDSC_API declaration of the public headers is in MAP;
- MAP's nodes are stable ones, MUDSC_<x.y.z> (each later one inheriting the
  one before), and one experimental node MUDSC_EXPERIMENTAL_<VERSION>, named
  after this release (it is renamed by every release);
- a function declared in a stable header is in a stable node and declared in
  no experimental header; one declared in experimental.h is in the
  experimental node and declared nowhere else;
- every exported symbol carries the version of its node (nm -D: name@@node).
"""
import re
import subprocess
import sys

from c_api import (EXPERIMENTAL_HEADER, EXPERIMENTAL_NODE, STABLE_NODE, parse_headers,
                   parse_map_nodes)


def exported_versions(lib):
    """name -> version node of every defined dynamic symbol."""
    nm = subprocess.run(["nm", "-D", "--defined-only", "--with-symbol-versions", lib],
                        check=True, capture_output=True, text=True).stdout
    out = {}
    for line in nm.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TDBRVWi":
            name, _, node = parts[2].partition("@")
            out[name] = node.lstrip("@")
    return out


def version_key(node):
    return tuple(int(x) for x in re.findall(r"\d+", node))


def check_nodes(nodes, version, problems):
    """The node names and their inheritance; returns (stable names, experimental names)."""
    stable = [n for n in nodes if STABLE_NODE.match(n)]
    experimental = [n for n in nodes if EXPERIMENTAL_NODE.match(n)]
    for n in nodes:
        if n not in stable and n not in experimental:
            problems.append(f"node {n}: neither MUDSC_x.y.z nor MUDSC_EXPERIMENTAL_x.y.z")
    if experimental != [f"MUDSC_EXPERIMENTAL_{version}"]:
        problems.append(f"experimental nodes {experimental}: expected exactly "
                        f"MUDSC_EXPERIMENTAL_{version} (renamed by every release)")
    if sorted(stable, key=version_key) != stable:
        problems.append(f"stable nodes {stable} are not in release order")
    if stable and version_key(stable[-1]) > version_key(version):
        problems.append(f"stable node {stable[-1]} is newer than the release {version}")
    for prev, node in zip(stable, stable[1:]):
        if nodes[node][1] != prev:
            problems.append(f"node {node} must inherit {prev} ('}} {prev};')")
    names = lambda which: set().union(*(nodes[n][0] for n in which)) if which else set()
    return names(stable), names(experimental)


def check(lib, mapfile, header_dir, version):
    """(problems, summary line)."""
    nodes = parse_map_nodes(mapfile)
    problems = []
    node_of = {}
    for node, (names, _) in nodes.items():
        for name in names:
            if name in node_of:
                problems.append(f"{name}: in nodes {node_of[name]} and {node}")
            node_of[name] = node
    listed = set(node_of)
    stable_listed, experimental_listed = check_nodes(nodes, version, problems)

    exported = exported_versions(lib)
    if set(exported) != listed:
        problems.append(f"exported but not in the map: {sorted(set(exported) - listed)}")
        problems.append(f"in the map but not exported: {sorted(listed - set(exported))}")
    bad_prefix = sorted(s for s in exported if not s.startswith("mudsc_"))
    if bad_prefix:
        problems.append(f"exported without the mudsc_ prefix: {bad_prefix}")
    for name, node in sorted(exported.items()):
        if name in node_of and node != node_of[name]:
            problems.append(f"{name}: exported with version {node or '(none)'}, the map puts it "
                            f"in {node_of[name]}")

    api = parse_headers(header_dir)
    declared = set(api.functions)
    if declared != listed:
        problems.append(f"declared MUDSC_API but not in the map: {sorted(declared - listed)}")
        problems.append(f"in the map but declared in no header: {sorted(listed - declared)}")
    stable, experimental = api.stable(), api.experimental()
    for name in sorted(stable & experimental):
        problems.append(f"{name}: declared in {EXPERIMENTAL_HEADER} and in a stable header "
                        f"({', '.join(api.headers[name])})")
    for name in sorted(stable - experimental - stable_listed):
        problems.append(f"{name}: declared in {', '.join(api.headers[name])} (stable) but not "
                        f"in a stable node")
    for name in sorted(experimental - stable - experimental_listed):
        problems.append(f"{name}: declared in {EXPERIMENTAL_HEADER} but not in the "
                        f"experimental node")
    summary = (f"{len(exported)} symbols ({len(stable_listed)} stable in "
               f"{', '.join(n for n in nodes if STABLE_NODE.match(n))}, "
               f"{len(experimental_listed)} experimental): exports == map == header "
               f"declarations, each in its node")
    return [p for p in problems if not p.endswith(": []")], summary


def main(argv):
    if len(argv) != 5:
        print(__doc__.split("\n\n")[1])
        return 2
    problems, summary = check(*argv[1:5])
    print("\n".join(problems) if problems else summary)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
