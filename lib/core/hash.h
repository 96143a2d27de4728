/*
 * FNV-1a, 64 bits: the one hash of the library (name tables, the JSON
 * reader's duplicate-key sets, the accumulator format's checksum, which
 * docs/algorithm.md fixes as FNV-1a so it must never change).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_HASH_H
#define MUDSC_HASH_H

#include <stddef.h>
#include <stdint.h>

#define MUDSC__FNV1A_BASIS UINT64_C(0xcbf29ce484222325)

/* One byte more of a running hash (start from MUDSC__FNV1A_BASIS). */
static inline uint64_t mudsc__fnv1a_step(uint64_t h, unsigned char byte)
{
	return (h ^ byte) * UINT64_C(0x100000001b3);
}

/* The hash of n bytes. */
static inline uint64_t mudsc__fnv1a(const void *bytes, size_t n)
{
	const unsigned char *p = bytes;
	uint64_t h = MUDSC__FNV1A_BASIS;

	for (size_t i = 0; i < n; i++)
		h = mudsc__fnv1a_step(h, p[i]);
	return h;
}

#endif /* MUDSC_HASH_H */
