#!/bin/sh
# Install the build into a temporary root (DESTDIR), then check what a user
# of the installed tree gets: `pkg-config --cflags mudsc` is the installed
# include folder alone (no folder of a dependency), `--static --libs` names
# exactly the libraries libmudsc.so links (its DT_NEEDED entries), and both
# links work: a program built outside the tree with nothing but pkg-config's
# flags runs against the shared library and against libmudsc.a.
#
# Usage: check_install.sh BUILD_DIR SOURCE_FILE [EXTRA_CFLAGS]
set -eu
build=$1
src=$2
extra=${3:-}
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
[ $# -eq 1 ] && [ "$1" = "-I$(dirname "$(dirname "$header")")" ] ||
	fail "pkg-config --cflags mudsc is '$cflags', expected only -I<installed include folder>"

static=$(pc --static --libs)
listed=$(for w in $static; do case $w in -l*) echo "${w#-l}" ;; esac; done | sort -u)
# Every library libmudsc.so needs, by name; libc and the loader come with cc.
needed=$( (echo mudsc; readelf -d "$libso" | sed -n 's/.*(NEEDED).*\[lib\([^].]*\)\.so.*\]/\1/p') |
	grep -v -x -e c -e ld-linux-x86-64 -e ld-linux -e pthread -e gomp | sort -u)
[ "$listed" = "$needed" ] ||
	fail "pkg-config --static --libs mudsc is '$static': it links" $listed "but libmudsc.so needs" $needed

# shellcheck disable=SC2086
cc -std=c11 -Wall -Werror $extra -o "$root/downstream" "$src" $(pc --cflags --libs)
LD_LIBRARY_PATH="$libdir" "$root/downstream"
# The same program against the archive: -l:libmudsc.a, then every other flag.
static_flags=$(echo "$static" | sed 's/-lmudsc\b/-l:libmudsc.a/')
# shellcheck disable=SC2086
cc -std=c11 -Wall -Werror $extra -o "$root/downstream-static" "$src" $cflags $static_flags
"$root/downstream-static"
if readelf -d "$root/downstream-static" | grep -q 'NEEDED.*libmudsc'; then
	fail "the static downstream program still needs libmudsc.so"
fi
