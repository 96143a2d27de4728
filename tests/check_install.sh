#!/bin/sh
# Install the build into a temporary root (DESTDIR), then check what a user
# of the installed tree gets:
#  - `pkg-config --cflags mudsc` is the installed include folder alone (no
#    folder of a dependency), `--static --libs` names exactly the libraries
#    libmudsc.so links (its DT_NEEDED entries), and both links work: a
#    program built outside the tree with nothing but pkg-config's flags runs
#    against the shared library and against libmudsc.a;
#  - the Python package (when PYTHON is given) holds every module of the
#    source package, sits in a folder PYTHON searches by itself, and imports
#    with PYTHONPATH naming only the installed folder and no MUDSC_LIBRARY,
#    loading the installed library.
#
# $CC (default cc) compiles the downstream program: the build's compiler.
# Usage: check_install.sh BUILD_DIR SOURCE_FILE EXTRA_CFLAGS \
#            [PYTHON PACKAGE_DIR SOURCE_PACKAGE VERSION MUST_BE_SEARCHED]
# PACKAGE_DIR is where meson installs the package (without DESTDIR);
# MUST_BE_SEARCHED is 1 when PYTHON has to search PACKAGE_DIR (a standard
# prefix).  $CHECK_INSTALL_PYTHON_ENV: VAR=VALUE words for PYTHON only (the
# sanitizer runtimes it needs under ASan).
set -eu
build=$1
src=$2
extra=${3:-}
python=${4:-}
pkgdir=${5:-}
source_pkg=${6:-}
version=${7:-}
must_be_searched=${8:-}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
fail() {
	echo "check_install: $*" >&2
	exit 1
}
meson install -C "$build" --destdir "$root" --quiet >/dev/null

# ---- pkg-config -----------------------------------------------------------
pcdir=$(dirname "$(find "$root" -name mudsc.pc | head -n 1)")
header=$(find "$root" -path '*/mudsc/mudsc.h' | head -n 1)
test -f "$header" || fail "mudsc.h is not installed"
libso=$(find "$root" -name 'libmudsc.so.*' -type f | head -n 1)
libdir=$(dirname "$libso")
export PKG_CONFIG_PATH="$pcdir"
# The tree is staged under $root: move mudsc.pc's prefix there (a sysroot
# would move the dependencies' folders too).
prefix=$(pkg-config --variable=prefix mudsc)
pc() {
	pkg-config --define-variable=prefix="$root$prefix" "$@" mudsc
}

cflags=$(pc --cflags)
# shellcheck disable=SC2086
set -- $cflags
if [ $# -ne 1 ] || [ "$1" != "-I$(dirname "$(dirname "$header")")" ]; then
	fail "pkg-config --cflags mudsc is '$cflags', expected only -I<installed include folder>"
fi

static=$(pc --static --libs)
listed=$(for w in $static; do case $w in -l*) echo "${w#-l}" ;; esac; done | sort -u)
# Every library libmudsc.so needs, by name; libc, the loader and what the
# flags -pthread and -fopenmp bring (libpthread, libgomp) come with cc, and
# the sanitizer runtimes of an instrumented build come with -fsanitize.
needed=$( (echo mudsc; readelf -d "$libso" | sed -n 's/.*(NEEDED).*\[lib\([^].]*\)\.so.*\]/\1/p') |
	grep -v -x -e c -e ld-linux-x86-64 -e ld-linux -e pthread -e gomp -e asan -e ubsan -e tsan |
	sort -u)
if [ "$listed" != "$needed" ]; then
	fail "pkg-config --static --libs mudsc is '$static': it links" \
		"$(echo "$listed" | tr '\n' ' ')but libmudsc.so needs $(echo "$needed" | tr '\n' ' ')"
fi

# shellcheck disable=SC2086,SC2046
"${CC:-cc}" -std=c11 -Wall -Werror $extra -o "$root/downstream" "$src" $(pc --cflags --libs)
LD_LIBRARY_PATH="$libdir" "$root/downstream"
# The same program against the archive: -l:libmudsc.a, then every other flag.
static_flags=$(echo "$static" | sed 's/-lmudsc\b/-l:libmudsc.a/')
# shellcheck disable=SC2086
"${CC:-cc}" -std=c11 -Wall -Werror $extra -o "$root/downstream-static" "$src" $cflags $static_flags
"$root/downstream-static"
if readelf -d "$root/downstream-static" | grep -q 'NEEDED.*libmudsc'; then
	fail "the static downstream program still needs libmudsc.so"
fi

# ---- the Python package ---------------------------------------------------
[ -n "$python" ] || exit 0
installed="$root$pkgdir"
test -d "$installed/mudsc" || fail "the Python package is not in $installed/mudsc"
for module in "$source_pkg"/*.py; do
	test -f "$installed/mudsc/$(basename "$module")" ||
		fail "$(basename "$module") of the source package is not installed (bindings/python/meson.build)"
done
test -f "$installed/mudsc/_installed.py" || fail "mudsc/_installed.py is not installed"
if ! "$python" -E -s -c 'import os, site, sys; norm = os.path.normpath
sys.exit(norm(sys.argv[1]) not in map(norm, site.getsitepackages()))' "$pkgdir"; then
	[ "$must_be_searched" != 1 ] || fail "$python does not search $pkgdir"
	echo "note: $python does not search $pkgdir (a non-standard prefix): PYTHONPATH is needed there"
fi
if ! "$python" -c 'import numpy' 2>/dev/null; then
	echo "installed-package import skipped: $python has no numpy"
	exit 0
fi
# From an empty folder, so that nothing of the source tree is importable;
# -s: no user site-packages.
mkdir "$root/empty"
# shellcheck disable=SC2086
(cd "$root/empty" && env -u MUDSC_LIBRARY -u LD_LIBRARY_PATH PYTHONPATH="$installed" \
	PYTHONDONTWRITEBYTECODE=1 ${CHECK_INSTALL_PYTHON_ENV:-} "$python" -s -c '
import sys
import numpy as np
import mudsc
root, version = sys.argv[1:3]
assert mudsc.__file__.startswith(root + "/"), mudsc.__file__
maps = open("/proc/self/maps").read().split("\n")
loaded = sorted({line.split()[-1] for line in maps if "libmudsc.so" in line})
assert loaded and all(p.startswith(root + "/") for p in loaded), loaded
assert mudsc.version() == version, mudsc.version()
m = mudsc.Model.from_numpy({"w": np.arange(6.0).reshape(2, 3)})
assert m.info("w").shape == (2, 3)
print("installed package: " + mudsc.__file__ + ", library " + loaded[0])
' "$root" "$version")
