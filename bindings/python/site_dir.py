#!/usr/bin/env python3
"""Print the folder `meson install` puts the package mudsc in, and whether
this interpreter searches it (second line: "searched" or "not searched").

Meson's own choice if this interpreter searches it; else this interpreter's
site-packages folder under the install prefix, PREFIX/lib/pythonX[.Y]/
{site,dist}-packages; else meson's choice.  Debian's /usr/bin/python3 is
the reason: for the prefix /usr/local, meson 1.0 picks
/usr/local/lib/python3/dist-packages (Debian's deb_system scheme), which
that interpreter does not search; it searches
/usr/local/lib/python3.11/dist-packages.

Usage: site_dir.py PREFIX MESON_PURELIB
"""
import os
import site
import sys


def under_prefix(path, prefix):
    """True if path is PREFIX/lib/python*/site-packages or dist-packages."""
    parts = os.path.relpath(path, prefix).split(os.sep)
    return (len(parts) == 3 and parts[0] == "lib" and parts[1].startswith("python")
            and parts[2] in ("site-packages", "dist-packages"))


def main():
    prefix, chosen = (os.path.normpath(p) for p in sys.argv[1:3])
    searched = [os.path.normpath(p) for p in site.getsitepackages()]
    if chosen not in searched:
        chosen = next((p for p in searched if under_prefix(p, prefix)), chosen)
    print(chosen)
    print("searched" if chosen in searched else "not searched")
    return 0


if __name__ == "__main__":
    sys.exit(main())
