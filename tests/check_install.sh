#!/bin/sh
# Install the build into a temporary root, then build and run a program
# outside the tree with nothing but `pkg-config --cflags --libs mudsc`.
# Usage: check_install.sh BUILD_DIR SOURCE_FILE [EXTRA_CFLAGS]
set -eu
build=$1
src=$2
extra=${3:-}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
meson install -C "$build" --destdir "$root" --quiet >/dev/null
pcdir=$(dirname "$(find "$root" -name mudsc.pc | head -n 1)")
export PKG_CONFIG_PATH="$pcdir" PKG_CONFIG_SYSROOT_DIR="$root"
flags=$(pkg-config --cflags --libs mudsc)
# shellcheck disable=SC2086
cc -std=c11 -Wall -Werror $extra -o "$root/downstream" "$src" $flags
libdir=$(dirname "$(find "$root" -name "libmudsc.so*" | head -n 1)")
LD_LIBRARY_PATH="$libdir" "$root/downstream"
test -f "$(find "$root" -name mudsc.h | head -n 1)"
