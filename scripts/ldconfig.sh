#!/bin/sh
# Run by `meson install` (not for a DESTDIR install): refresh the dynamic
# linker's cache, so that programs linked with -lmudsc find the new library.
if [ "$(id -u)" = 0 ] && command -v ldconfig >/dev/null 2>&1; then
	ldconfig
else
	echo "libmudsc: run ldconfig as root, so that programs find the installed libmudsc.so.0"
fi
